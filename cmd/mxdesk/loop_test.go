package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestAutoresponderLoopStops plays a customer whose mail system answers every message it
// gets, our acknowledgement included (it ignores our Auto-Submitted header): the
// customer gets at most one acknowledgement and the exchange stops (guarantee 4).
func TestAutoresponderLoopStops(t *testing.T) {
	peers := []struct {
		name  string
		reply func(n int, subject, ackID string) string
	}{
		{"vacation subject, no RFC 3834 header", func(n int, subject, _ string) string {
			return fmt.Sprintf("From: Alice <alice@example.org>\nTo: support@example.com\nSubject: Automatic reply: %s\nMessage-ID: <vac%d@example.org>\n\nI am on holiday until Monday.\n", subject, n)
		}},
		{"Auto-Submitted, threaded to our acknowledgement", func(n int, subject, ackID string) string {
			return fmt.Sprintf("From: Alice <alice@example.org>\nTo: support@example.com\nSubject: Re: %s\nAuto-Submitted: auto-replied\nIn-Reply-To: <%s>\nMessage-ID: <oof%d@example.org>\n\nI am on holiday.\n", subject, ackID, n)
		}},
		{"Precedence: bulk with a fresh subject", func(n int, _, _ string) string {
			return fmt.Sprintf("From: Alice <alice@example.org>\nTo: support@example.com\nSubject: Thanks for your message\nPrecedence: bulk\nMessage-ID: <bulk%d@example.org>\n\nWe got it.\n", n)
		}},
	}
	url := storetest.Dialects(t)["sqlite"]
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			sink := sinktest.Start(t)
			inst := newInstance(t, url(t), sink.Addr, "")
			inst.start()
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"},
				crlf("From: Alice <alice@example.org>\nTo: support@example.com\nSubject: Printer on fire\nMessage-ID: <start@example.org>\n\nhelp\n")); err != nil {
				t.Fatal(err)
			}
			sink.Wait(t, 1, 15*time.Second)
			// The peer: answer every mail the relay received, until mxdesk has handled
			// every answer and sent nothing new.
			answered := 0
			for {
				msgs := sink.Messages()
				if answered == len(msgs) {
					break
				}
				for ; answered < len(msgs); answered++ {
					m := msgs[answered]
					subject := decodeHeader(m.Header.Get("Subject"))
					ackID := strings.Trim(m.Header.Get("Message-ID"), "<>")
					if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, crlf(p.reply(answered, subject, ackID))); err != nil {
						t.Fatalf("autoresponder's reply %d: %v", answered, err)
					}
				}
				if answered > 20 {
					t.Fatal("the exchange does not stop")
				}
				waitFor(t, "the answers handled", 15*time.Second, inst.settled)
			}
			acks := 0
			for _, m := range sink.Messages() {
				if len(m.To) == 1 && m.To[0] == "alice@example.org" {
					acks++
				}
			}
			var inq []any
			inst.cliJSON(&inq, "queue", "inbound")
			t.Logf("%s: %d mails to the customer, %d autoresponder replies, %d messages received", p.name, acks, answered, len(inq))
			if acks != 1 || answered != 1 {
				t.Errorf("the autoresponder got %d mails and answered %d; want exactly one acknowledgement, answered once", acks, answered)
			}
		})
	}
}
