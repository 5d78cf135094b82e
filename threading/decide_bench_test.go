package threading_test

import (
	"context"
	"testing"

	"github.com/mxdesk/mxdesk/threading"
)

// benchLookup answers from maps, so the benchmark measures the decision, not a database.
type benchLookup struct {
	ids   map[string][]threading.Ref
	parts map[int64]string
}

func (l benchLookup) MessageID(_ context.Context, id string) ([]threading.Ref, error) {
	return l.ids[id], nil
}
func (l benchLookup) TicketExists(_ context.Context, id int64) (bool, error) {
	_, ok := l.parts[id]
	return ok, nil
}
func (l benchLookup) IsParticipant(_ context.Context, id int64, addr string) (bool, error) {
	return l.parts[id] == addr, nil
}

// BenchmarkDecide is the threading decision for the common cases of inbound mail.
func BenchmarkDecide(b *testing.B) {
	l := benchLookup{
		ids:   map[string][]threading.Ref{"ack.42@example.com": {{TicketID: 42, Generated: true}}, "c.1@example.org": {{TicketID: 7}}},
		parts: map[int64]string{42: "alice@example.org", 7: "alice@example.org"},
	}
	cases := map[string]threading.Input{
		"new-ticket":     {Subject: "printer on fire", Sender: "bob@example.org"},
		"reply-address":  {TokenTicket: 42, Subject: "Re: printer", Sender: "alice@example.org"},
		"generated-id":   {InReplyTo: []string{"ack.42@example.com"}, References: []string{"c.1@example.org", "ack.42@example.com"}, Subject: "Re: x", Sender: "alice@example.org"},
		"subject-tag":    {Subject: "Re: [#7] printer", Sender: "alice@example.org", Authenticated: true},
		"stranger-tag":   {Subject: "Re: [#7] printer", Sender: "mallory@example.net"},
		"long-reference": {References: []string{"a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x", "c.1@example.org"}, Sender: "alice@example.org", Authenticated: true},
	}
	ctx := context.Background()
	for name, in := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := threading.Decide(ctx, in, l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
