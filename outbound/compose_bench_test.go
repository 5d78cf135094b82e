package outbound

import (
	"net/mail"
	"testing"
)

// BenchmarkComposeAck composes the acknowledgement of a new ticket, as ingest does once
// per ticket (a share of serve's CPU in a burst: bench/README.md).
func BenchmarkComposeAck(b *testing.B) {
	c := testComposer(b)
	n := Notice{Kind: KindAck, Lang: "en", TicketID: 4711, TicketSubject: "Printer on fire again",
		Team: "Support", To: mail.Address{Name: "Ann Customer", Address: "ann@example.org"},
		ContactName: "Ann Customer", ReplyTo: "support+4711@example.com", InReplyTo: "abc@example.org",
		References: []string{"abc@example.org"}, Links: Links{View: "https://help.example.com/t/4711?sig=x"},
		SLA: "We answer within 4 working hours.", AutoSubmitted: "auto-replied",
		Articles: []Article{{Title: "Paper jams", Summary: "What to do when paper jams.", URL: "https://help.example.com/kb/paper-jams"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compose(n); err != nil {
			b.Fatal(err)
		}
	}
}
