package main

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/resolver"
	"github.com/mxdesk/mxdesk/smtpd"
)

// smtpConfig turns the [smtp] and [dns] sections into the SMTP server's configuration:
// the one resolver, the authentication checks that use it, TLS, and the limits.
func smtpConfig(cfg *config.Config, res *resolver.Resolver, knownRecipient func(string) bool) (smtpd.Config, error) {
	sc := smtpd.Config{
		Listen: cfg.SMTP.Listen, Hostname: cfg.SMTP.Hostname, MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
		MaxRecipients: cfg.SMTP.MaxRecipients, ReadTimeout: cfg.SMTP.ReadTimeout.Duration,
		WriteTimeout: cfg.SMTP.WriteTimeout.Duration, KnownRecipient: knownRecipient,
		LocalDomains:   localDomains(cfg),
		MaxHeaderBytes: cfg.SMTP.MaxHeaderBytes, MaxHeaderFields: cfg.SMTP.MaxHeaderFields,
		MaxCommands: cfg.SMTP.MaxCommands, MaxErrors: cfg.SMTP.MaxErrors,
		MaxConnections: cfg.SMTP.MaxConnections, ConnRatePerIP: cfg.SMTP.ConnRatePerIP,
		TrustedNetworks: config.ParseNetworks(cfg.SMTP.TrustedNetworks),
		RequireTLS:      cfg.SMTP.RequireTLS,
		// The lookups of one message share a budget of a few query timeouts: a DKIM key,
		// the DMARC record (twice with the fallback) and up to ten SPF lookups.
		Auth: &mailauth.Checker{Resolver: res, Timeout: 4 * cfg.DNS.Timeout.Duration},
	}
	if cfg.SMTP.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.SMTP.TLSCert, cfg.SMTP.TLSKey)
		if err != nil {
			return smtpd.Config{}, fmt.Errorf("smtp.tls_cert: %w", err)
		}
		sc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return sc, nil
}

// localDomains are the domains mxdesk is the destination for: its own and its mailboxes';
// any other recipient domain is a relay attempt.
func localDomains(cfg *config.Config) []string {
	local := []string{strings.ToLower(cfg.Domain)}
	for _, mb := range cfg.Mailboxes {
		if at := strings.LastIndexByte(mb.Address, '@'); at >= 0 {
			local = append(local, strings.ToLower(mb.Address[at+1:]))
		}
	}
	return local
}
