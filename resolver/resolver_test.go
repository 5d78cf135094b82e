package resolver_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/resolver"
	"github.com/mxdesk/mxdesk/resolver/dnstest"
)

func newResolver(t *testing.T, srv *dnstest.Server) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New(resolver.Config{Server: srv.Addr, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLookupsTellTemporaryFromPermanentFailures(t *testing.T) {
	srv := dnstest.Start(t)
	long := "v=DKIM1; k=rsa; p=" + strings.Repeat("A", 600)
	srv.TXT("sel._domainkey.example.org", long)
	srv.TXT("example.org", "v=spf1 ip4:192.0.2.1 -all", "other")
	srv.A("mx.example.org", "192.0.2.1", "2001:db8::1")
	srv.MX("example.org", 20, "mx2.example.org")
	srv.MX("example.org", 10, "mx.example.org")
	srv.PTR("192.0.2.1", "mx.example.org")
	srv.ServFail("_dmarc.broken.example")
	srv.Silent("slow.example")
	r := newResolver(t, srv)
	ctx := context.Background()

	txt, err := r.LookupTXT(ctx, "sel._domainkey.example.org")
	if err != nil || len(txt) != 1 || txt[0] != long {
		t.Errorf("long TXT = %d records (%v), want the 600-byte key joined back into one", len(txt), err)
	}
	if txt, err := r.LookupTXT(ctx, "Example.ORG"); err != nil || len(txt) != 2 {
		t.Errorf("TXT of a name in another case = %q, %v", txt, err)
	}
	mx, err := r.LookupMX(ctx, "example.org")
	if err != nil || len(mx) != 2 || mx[0].Host != "mx.example.org." || mx[1].Pref != 20 {
		t.Errorf("MX = %v, %v; want mx (10) before mx2 (20)", mx, err)
	}
	ips, err := r.LookupIPAddr(ctx, "mx.example.org")
	if err != nil || len(ips) != 2 {
		t.Errorf("IPs = %v, %v; want one A and one AAAA", ips, err)
	}
	names, err := r.LookupAddr(ctx, "192.0.2.1")
	if err != nil || len(names) != 1 || names[0] != "mx.example.org." {
		t.Errorf("PTR = %v, %v", names, err)
	}

	tests := []struct {
		name            string
		lookup          func() error
		temporary, none bool
	}{
		{"a name that does not exist is NXDOMAIN, permanent", func() error { _, err := r.LookupTXT(ctx, "nothing.example.org"); return err }, false, true},
		{"a name without that record type is not found, permanent", func() error { _, err := r.LookupMX(ctx, "mx.example.org"); return err }, false, true},
		{"SERVFAIL is temporary", func() error { _, err := r.LookupTXT(ctx, "_dmarc.broken.example"); return err }, true, false},
		{"no answer in time is temporary", func() error { _, err := r.LookupTXT(ctx, "slow.example"); return err }, true, false},
		{"a name with an empty label is not found", func() error { _, err := r.LookupTXT(ctx, "a..b"); return err }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.lookup()
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := err.(*net.DNSError); !ok {
				t.Errorf("error %T is not a bare *net.DNSError (the DKIM and SPF libraries type-assert it)", err)
			}
			if resolver.IsTemporary(err) != tt.temporary || resolver.IsNotFound(err) != tt.none {
				t.Errorf("%v: temporary %v, not found %v; want %v, %v", err, resolver.IsTemporary(err), resolver.IsNotFound(err), tt.temporary, tt.none)
			}
		})
	}
}

func TestAnswersAreCachedButTemporaryFailuresAreNot(t *testing.T) {
	srv := dnstest.Start(t)
	srv.TXT("example.org", "v=spf1 -all")
	srv.ServFail("broken.example")
	r := newResolver(t, srv)
	ctx := context.Background()
	for range 3 {
		r.LookupTXT(ctx, "example.org")
		r.LookupTXT(ctx, "missing.example.org")
	}
	if n := srv.Queries(); n != 2 {
		t.Errorf("%d queries for 3 lookups each of a record and a missing name, want 2", n)
	}
	for range 3 {
		r.LookupTXT(ctx, "broken.example")
	}
	if n := srv.Queries(); n != 5 {
		t.Errorf("%d queries after 3 SERVFAILs, want each asked again (5)", n)
	}
}

func TestServerMustBeHostPort(t *testing.T) {
	if _, err := resolver.New(resolver.Config{Server: "127.0.0.1"}); err == nil {
		t.Error("a server without a port was accepted")
	}
}
