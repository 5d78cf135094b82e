package outbound_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/resolver"
	"github.com/mxdesk/mxdesk/resolver/dnstest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestDirectDeliveryFollowsMXPreference: with relay "mx", mail goes to the recipient
// domain's MX hosts, best first, skipping one that is down, with addresses from the
// configured resolver.
func TestDirectDeliveryFollowsMXPreference(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		sink := sinktest.Start(t)
		_, port, _ := net.SplitHostPort(sink.Addr)
		p, _ := strconv.Atoi(port)
		dns := dnstest.Start(t)
		dns.MX("example.org", 5, "down.example.org") // nothing listens on 127.0.0.2:port
		dns.A("down.example.org", "127.0.0.2")
		dns.MX("example.org", 10, "mx.example.org")
		dns.A("mx.example.org", "127.0.0.1")
		res, err := resolver.New(resolver.Config{Server: dns.Addr, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		row := queueOne(t, st) // to alice@example.org
		w := outbound.NewWorker(st, outbound.WorkerConfig{Relay: outbound.RelayMX, Resolver: res, NotFound: resolver.IsNotFound, MXPort: p}, quiet())
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		msgs := sink.Messages()
		if len(msgs) != 1 || msgs[0].Header.Get("Message-ID") != "<"+row.MessageID+">" {
			rows, _ := st.ListOutbox(context.Background(), "", 0, 1)
			t.Fatalf("sink got %d mails; outbox %+v", len(msgs), rows)
		}
	})
}

func TestDirectDeliveryOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		sink := sinktest.Start(t)
		sink.SetRefuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, -1)
		_, port, _ := net.SplitHostPort(sink.Addr)
		p, _ := strconv.Atoi(port)
		tests := []struct {
			name   string
			setup  func(dns *dnstest.Server)
			status string
			says   string
		}{
			{"null MX is final", func(dns *dnstest.Server) { dns.MX("example.org", 0, ".") }, store.OutboxFailed, "null MX"},
			{"SERVFAIL is retried", func(dns *dnstest.Server) { dns.ServFail("example.org") }, store.OutboxPending, "MX example.org"},
			{"the MX host's 550 is final", func(dns *dnstest.Server) {
				dns.MX("example.org", 10, "mx.example.org")
				dns.A("mx.example.org", "127.0.0.1")
			}, store.OutboxFailed, "no such user"},
		}
		for _, tt := range tests {
			dns := dnstest.Start(t) // a fresh zone per case
			res, _ := resolver.New(resolver.Config{Server: dns.Addr, Timeout: 2 * time.Second})
			w := outbound.NewWorker(st, outbound.WorkerConfig{Relay: outbound.RelayMX, Resolver: res, NotFound: resolver.IsNotFound,
				MXPort: p, RetrySchedule: []time.Duration{time.Hour}}, quiet())
			tt.setup(dns)
			row := queueOne(t, st)
			if _, err := w.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			rows, _ := st.ListOutbox(context.Background(), "", 0, 50)
			for _, r := range rows {
				if r.ID == row.ID && (r.Status != tt.status || !strings.Contains(r.LastError, tt.says)) {
					t.Errorf("%s: row %s %q, want %s saying %q", tt.name, r.Status, r.LastError, tt.status, tt.says)
				}
			}
		}
	})
}
