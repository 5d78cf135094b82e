package ingest

import (
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/threading"
)

func TestRouterResolvesOnlyWhatItServes(t *testing.T) {
	signer := threading.NewSigner(testSecret)
	r := NewRouter(testMailboxes, signer)
	tok42 := signer.Token(threading.RoleCustomer, 42)
	num, mac, _ := strings.Cut(tok42[1:], "-")
	flipped := []byte(mac)
	if flipped[0] == 'a' {
		flipped[0] = 'b'
	} else {
		flipped[0] = 'a'
	}
	other := threading.NewSigner([]byte("another server's secret, 32 bytes")).Token(threading.RoleCustomer, 42)

	tests := []struct {
		name   string
		rcpt   string
		ok     bool
		want   Route
		ownish bool // Own should say it is one of ours
	}{
		{name: "the plain mailbox resolves to its team", rcpt: "support@example.com", ok: true,
			want: Route{Mailbox: "support@example.com", Team: "Support"}, ownish: true},
		{name: "the mailbox matches whatever the case", rcpt: "SUPPORT@Example.COM", ok: true,
			want: Route{Mailbox: "support@example.com", Team: "Support"}, ownish: true},
		{name: "surrounding spaces are ignored", rcpt: "  support@example.com ", ok: true,
			want: Route{Mailbox: "support@example.com", Team: "Support"}},
		{name: "a second mailbox leads to its own team", rcpt: "billing@example.com", ok: true,
			want: Route{Mailbox: "billing@example.com", Team: "Billing"}, ownish: true},
		{name: "an unknown local part is refused", rcpt: "sales@example.com"},
		{name: "a known local part at another domain is refused", rcpt: "support@example.org"},
		{name: "an address without a domain is refused", rcpt: "support"},
		{name: "an empty address is refused", rcpt: ""},
		{name: "a valid customer token leads to its ticket", rcpt: threading.ReplyAddress("support@example.com", tok42), ok: true,
			want: Route{Mailbox: "support@example.com", Team: "Support", TicketID: 42}, ownish: true},
		{name: "a customer token survives a client that upper-cases the address",
			rcpt: strings.ToUpper(threading.ReplyAddress("support@example.com", tok42)), ok: true,
			want: Route{Mailbox: "support@example.com", Team: "Support", TicketID: 42}, ownish: true},
		{name: "a token on the other mailbox keeps that mailbox's team", rcpt: threading.ReplyAddress("billing@example.com", tok42), ok: true,
			want: Route{Mailbox: "billing@example.com", Team: "Billing", TicketID: 42}, ownish: true},
		{name: "a token whose ticket number was edited is refused", rcpt: "support+t43-" + mac + "@example.com", ownish: true},
		{name: "a token whose MAC was edited is refused", rcpt: "support+t" + num + "-" + string(flipped) + "@example.com", ownish: true},
		{name: "a token cut short is refused", rcpt: "support+" + tok42[:len(tok42)-3] + "@example.com", ownish: true},
		{name: "a token made with another secret is refused", rcpt: threading.ReplyAddress("support@example.com", other), ownish: true},
		{name: "an agent token leads to its ticket, marked as the agents' address", rcpt: threading.ReplyAddress("support@example.com", signer.Token(threading.RoleAgent, 42)), ok: true,
			want: Route{Mailbox: "support@example.com", Team: "Support", TicketID: 42, Agent: true}, ownish: true},
		{name: "a customer token turned into an agent one is refused", rcpt: "support+a" + tok42[1:] + "@example.com", ownish: true},
		{name: "an empty + tag is refused, never the plain mailbox", rcpt: "support+@example.com", ownish: true},
		{name: "an arbitrary + tag is refused", rcpt: "support+sales@example.com", ownish: true},
		{name: "a valid token on an unknown mailbox is refused", rcpt: threading.ReplyAddress("sales@example.com", tok42)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := r.Resolve(tc.rcpt)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Resolve(%q) = %+v, %v; want %+v, %v", tc.rcpt, got, ok, tc.want, tc.ok)
			}
			if known := r.Known(tc.rcpt); known != tc.ok {
				t.Errorf("Known(%q) = %v, want %v (smtpd answers false 550 5.1.1)", tc.rcpt, known, tc.ok)
			}
			if tc.ownish && !r.Own(strings.TrimSpace(tc.rcpt)) {
				t.Errorf("Own(%q) = false, want true: mail from our own addresses is never answered", tc.rcpt)
			}
		})
	}
}

func TestRouterOwnKnowsOurAddresses(t *testing.T) {
	r := NewRouter(testMailboxes, threading.NewSigner(testSecret))
	tests := []struct {
		addr string
		own  bool
	}{
		{"support@example.com", true},
		{"Support@EXAMPLE.com", true},
		{"billing@example.com", true},
		{"support+t1-anything@example.com", true},
		{"alice@example.org", false},
		{"support@example.org", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := r.Own(tc.addr); got != tc.own {
			t.Errorf("Own(%q) = %v, want %v", tc.addr, got, tc.own)
		}
	}
}
