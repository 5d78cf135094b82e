package config

import (
	"strings"
	"testing"
)

func TestInboundKeysNameTheProblem(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string // "" means valid
	}{
		{"defaults are valid", nil, ""},
		{"a network and a bare address", []string{"MXDESK_SMTP_TRUSTED_NETWORKS=10.0.0.0/8, 2001:db8::1"}, ""},
		{"no trusted networks at all", []string{"MXDESK_SMTP_TRUSTED_NETWORKS="}, ""},
		{"a network that is not one", []string{"MXDESK_SMTP_TRUSTED_NETWORKS=10.0.0.0/33"}, "smtp.trusted_networks[0]: \"10.0.0.0/33\" is not a network"},
		{"certificate without key", []string{"MXDESK_SMTP_TLS_CERT=/etc/cert.pem"}, "smtp.tls_cert: tls_cert and tls_key must be set together"},
		{"require_tls without a certificate", []string{"MXDESK_SMTP_REQUIRE_TLS=true"}, "config MXDESK_SMTP_REQUIRE_TLS: smtp.require_tls: needs smtp.tls_cert and smtp.tls_key"},
		{"tls_listen without a certificate", []string{"MXDESK_SMTP_TLS_LISTEN=:465"}, "config MXDESK_SMTP_TLS_LISTEN: smtp.tls_listen: needs smtp.tls_cert"},
		{"certificate files that do not exist", []string{"MXDESK_SMTP_TLS_CERT=/nonexistent/c.pem", "MXDESK_SMTP_TLS_KEY=/nonexistent/k.pem"}, "smtp.tls_cert: cannot load /nonexistent/c.pem"},
		{"dns server without a port", []string{"MXDESK_DNS_SERVER=127.0.0.1"}, "dns.server: \"127.0.0.1\" is not host:port"},
		{"zero connection rate", []string{"MXDESK_SMTP_CONN_RATE_PER_IP=0"}, "smtp.conn_rate_per_ip: must be positive"},
		{"a trusted domain that is a URL", []string{"MXDESK_TRUSTED_UNAUTHENTICATED_DOMAINS=ok.example,https://x"}, "trusted_unauthenticated_domains[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.env)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Load: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Load: %v; want an error containing %q", err, tt.want)
			}
		})
	}
}
