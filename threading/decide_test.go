package threading

import (
	"context"
	"testing"
)

// fakeDB is a Lookup over maps: the decision is pure, so a table is all it needs.
type fakeDB struct {
	ids          map[string][]Ref
	tickets      map[int64]bool
	participants map[int64][]string
}

func (f fakeDB) MessageID(_ context.Context, id string) ([]Ref, error) { return f.ids[id], nil }
func (f fakeDB) TicketExists(_ context.Context, id int64) (bool, error) {
	return f.tickets[id], nil
}
func (f fakeDB) IsParticipant(_ context.Context, id int64, addr string) (bool, error) {
	for _, p := range f.participants[id] {
		if p == addr {
			return true, nil
		}
	}
	return false, nil
}

func TestDecideFollowsTheTrustRule(t *testing.T) {
	db := fakeDB{
		ids: map[string][]Ref{
			"ack-1@mxdesk":      {{TicketID: 1, Generated: true}},
			"alice-1@example":   {{TicketID: 1}},
			"bob-2@example":     {{TicketID: 2}},
			"agent-2@mxdesk":    {{TicketID: 2, Generated: true}},
			"unknown@elsewhere": nil,
		},
		tickets:      map[int64]bool{1: true, 2: true},
		participants: map[int64][]string{1: {"alice@example.org"}, 2: {"bob@example.net", "carol@example.net"}},
	}
	tests := []struct {
		name     string
		in       Input
		want     int64
		reason   string
		flagged  bool
		pointsAt int64
	}{
		{"signed reply address wins whatever the sender", Input{TokenTicket: 2, Sender: "mallory@evil.test", Subject: "[#1]"}, 2, ByReplyAddress, false, 0},
		{"In-Reply-To of our acknowledgement, subject edited", Input{InReplyTo: []string{"ack-1@mxdesk"}, Subject: "totally different", Sender: "x@y"}, 1, ByGeneratedID, false, 0},
		{"References only, our id in the middle", Input{References: []string{"unknown@elsewhere", "agent-2@mxdesk", "alice-1@example"}, Sender: "x@y"}, 2, ByGeneratedID, false, 0},
		{"In-Reply-To a customer's message from an authenticated participant", Input{InReplyTo: []string{"alice-1@example"}, Sender: "alice@example.org", Authenticated: true}, 1, ByMessageID, false, 0},
		{"In-Reply-To a customer's message, sender unauthenticated", Input{InReplyTo: []string{"alice-1@example"}, Sender: "alice@example.org"}, 0, NewTicket, true, 1},
		{"subject tag from the authenticated contact", Input{Subject: "Re: [#1] printer", Sender: "alice@example.org", Authenticated: true}, 1, BySubjectTag, false, 0},
		{"subject tag from a stranger", Input{Subject: "[#1] printer", Sender: "mallory@evil.test", Authenticated: true}, 0, NewTicket, true, 1},
		{"subject tag, forged From of the contact, no authentication", Input{Subject: "[#1] printer", Sender: "alice@example.org"}, 0, NewTicket, true, 1},
		{"subject tag from a cc participant", Input{Subject: "[#2]", Sender: "carol@example.net", Authenticated: true}, 2, BySubjectTag, false, 0},
		{"subject tag naming no ticket", Input{Subject: "[#99] hello", Sender: "alice@example.org", Authenticated: true}, 0, NewTicket, false, 0},
		{"brand-new mail", Input{Subject: "Printer on fire", Sender: "alice@example.org", Authenticated: true}, 0, NewTicket, false, 0},
		{"forward of our acknowledgement with the tag, by the contact", Input{Subject: "Fwd: [#1] printer", InReplyTo: []string{"ack-1@mxdesk"}, Sender: "alice@example.org", Authenticated: true}, 0, ByForward, false, 0},
		{"German forward prefix", Input{Subject: "WG: [#2] Drucker", Sender: "bob@example.net", Authenticated: true}, 0, ByForward, false, 0},
		{"forward still goes to a signed reply address", Input{TokenTicket: 2, Subject: "Fwd: x"}, 2, ByReplyAddress, false, 0},
		{"unknown references only", Input{References: []string{"unknown@elsewhere"}, Sender: "alice@example.org"}, 0, NewTicket, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decide(context.Background(), tt.in, db)
			if err != nil {
				t.Fatal(err)
			}
			if d.TicketID != tt.want || d.Reason != tt.reason || (d.Flag != "") != tt.flagged || d.Pointed != tt.pointsAt {
				t.Errorf("Decide = %+v; want ticket %d by %s, flagged %v, pointing at %d", d, tt.want, tt.reason, tt.flagged, tt.pointsAt)
			}
		})
	}
}

func TestMessageIDsAcceptsWhatClientsWrite(t *testing.T) {
	tests := []struct {
		header string
		want   []string
	}{
		{"<a@b>", []string{"a@b"}},
		{"<a@b> <c@d>", []string{"a@b", "c@d"}},
		{"<a@b>,\r\n\t<c@d>", []string{"a@b", "c@d"}},
		{"a@b", []string{"a@b"}},
		{"Your message of Tue <x@y>", []string{"x@y"}},
		{"<>", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := MessageIDs(tt.header)
		if len(got) != len(tt.want) {
			t.Errorf("MessageIDs(%q) = %q, want %q", tt.header, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("MessageIDs(%q) = %q, want %q", tt.header, got, tt.want)
			}
		}
	}
}

func TestSubjectTag(t *testing.T) {
	tests := map[string]int64{
		"[#42] Printer":            42,
		"Re: AW: [#7] x":           7,
		"no tag":                   0,
		"[#0] zero":                0,
		"[# 5] spaced":             0,
		"[#99999999999999999999]":  0,
		"[#3] and later [#4] also": 3,
	}
	for subj, want := range tests {
		if got := SubjectTag(subj); got != want {
			t.Errorf("SubjectTag(%q) = %d, want %d", subj, got, want)
		}
	}
}

func TestIsForward(t *testing.T) {
	for subj, want := range map[string]bool{
		"Fwd: hello": true, "FW: hello": true, "WG: Rechnung": true, "TR: facture": true, "RV: factura": true,
		"Doorst: factuur": true, "Enc: fatura": true, "[EXT] Fwd: x": true,
		"Re: hello": false, "AW: Rechnung": false, "SV: faktura": false, "VS: lasku": false, "Forward planning": false, "TRUCK: x": false,
	} {
		if got := IsForward(subj); got != want {
			t.Errorf("IsForward(%q) = %v, want %v", subj, got, want)
		}
	}
}
