package main

import (
	"fmt"
	"net/mail"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
)

// swaksSend sends one mail with swaks, as a customer's or an agent's client would.
func swaksSend(t *testing.T, swaks, server, from, to string, headers []string, body string) {
	t.Helper()
	args := []string{"--server", server, "--from", from, "--to", to, "--body", body, "--h-From", from}
	for _, h := range headers {
		args = append(args, "--header", h)
	}
	out, err := exec.Command(swaks, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "<-  250") {
		t.Fatalf("swaks from %s to %s: %v\n%s", from, to, err, out)
	}
}

// mailsTo waits for the sink to hold n mails to rcpt of a kind and returns them.
func mailsTo(t *testing.T, sink *sinktest.Sink, rcpt, kind string, n int) []sinktest.Message {
	t.Helper()
	var got []sinktest.Message
	waitFor(t, "mail "+kind+" to "+rcpt, 15*time.Second, func() bool {
		got = nil
		for _, m := range sink.Messages() {
			if len(m.To) == 1 && m.To[0] == rcpt && m.Header.Get("X-Mxdesk-Kind") == kind {
				got = append(got, m)
			}
		}
		return len(got) >= n
	})
	if len(got) != n {
		t.Fatalf("%d %s mails to %s, want %d", len(got), kind, rcpt, n)
	}
	return got
}

func countTo(sink *sinktest.Sink, rcpt string) int {
	n := 0
	for _, m := range sink.Messages() {
		if len(m.To) == 1 && m.To[0] == rcpt {
			n++
		}
	}
	return n
}

// TestConversationBetweenCustomerAndAgentByEmail: a customer and an agent, both with
// swaks, hold a whole conversation through mxdesk, and the sink sees the right mails.
func TestConversationBetweenCustomerAndAgentByEmail(t *testing.T) {
	swaks := needPeer(t, "swaks")
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			sink := sinktest.Start(t)
			inst := newInstance(t, mkURL(t), sink.Addr, `[[agents]]
email = "ana@example.com"
name = "Ana Agent"
team = "Support"
[[agents]]
email = "bert@example.com"
name = "Bert"
team = "Support"
`)
			// The agents' domain sends unsigned mail in this test; the sender rule lets it
			// count as authenticated only because it is listed.
			inst.env = append(inst.env, "MXDESK_TRUSTED_UNAUTHENTICATED_DOMAINS=example.com")
			inst.start()

			// 1. The customer writes.
			swaksSend(t, swaks, inst.smtp, "alice@example.org", "support@example.com",
				[]string{"Subject: Printer on fire", "Message-Id: <c1@example.org>"}, "The printer on floor 3 is on fire.")
			mailsTo(t, sink, "alice@example.org", "acknowledgement", 1)
			note := mailsTo(t, sink, "ana@example.com", "agent_notification", 1)[0]
			mailsTo(t, sink, "bert@example.com", "agent_notification", 1)
			agentAddr, err := mail.ParseAddress(note.Header.Get("Reply-To"))
			if err != nil || !strings.HasPrefix(agentAddr.Address, "support+a1-") {
				t.Fatalf("agent notification Reply-To %q", note.Header.Get("Reply-To"))
			}
			if !strings.Contains(string(note.Raw), "on fire") || !strings.Contains(decodeHeader(note.Header.Get("From")), "alice@example.org") &&
				!strings.Contains(string(note.Raw), "alice@example.org") {
				t.Errorf("agent notification lacks the conversation:\n%s", note.Raw)
			}

			// 2. Ana answers from her mail client, quoting the notification.
			swaksSend(t, swaks, inst.smtp, "ana@example.com", agentAddr.Address,
				[]string{"Subject: Re: [#1] Printer on fire", "In-Reply-To: " + note.Header.Get("Message-ID")},
				"Please switch it off at the wall.\n\nOn Tue, 24 Nov 2026, Example Support wrote:\n> The printer on floor 3 is on fire.")
			reply := mailsTo(t, sink, "alice@example.org", "agent_reply", 1)[0]
			from, _ := mail.ParseAddress(reply.Header.Get("From"))
			if from == nil || from.Address != "support@example.com" || !strings.Contains(from.Name, "Ana Agent") {
				t.Errorf("agent reply From %q: want Ana's name and the mailbox address, never hers", reply.Header.Get("From"))
			}
			if got := reply.Header.Get("In-Reply-To"); got != "<c1@example.org>" {
				t.Errorf("agent reply In-Reply-To %q, want the customer's message", got)
			}
			custAddr, _ := mail.ParseAddress(reply.Header.Get("Reply-To"))
			if custAddr == nil || !strings.HasPrefix(custAddr.Address, "support+t1-") {
				t.Fatalf("agent reply Reply-To %q, want the customer's reply address", reply.Header.Get("Reply-To"))
			}
			body := string(reply.Raw)
			if !strings.Contains(body, "switch it off at the wall") || strings.Contains(body, "&gt; The printer") || strings.Contains(body, "> The printer") {
				t.Errorf("agent reply text wrong (quote must be stripped):\n%s", reply.Raw)
			}
			var show struct {
				Status   string `json:"status"`
				Messages []struct {
					Direction, Kind, From, Text string
				} `json:"messages"`
			}
			inst.cliJSON(&show, "ticket", "show", "1")
			if show.Status != "in_progress" {
				t.Errorf("status after the first agent reply = %s, want in_progress", show.Status)
			}

			// 3. The customer answers the agent.
			swaksSend(t, swaks, inst.smtp, "alice@example.org", custAddr.Address,
				[]string{"Subject: Re: [#1] Printer on fire", "Message-Id: <c2@example.org>", "In-Reply-To: " + reply.Header.Get("Message-ID")},
				"Done, it is out.")
			mailsTo(t, sink, "ana@example.com", "agent_notification", 2)

			// 4. Ana resolves it with a command and a last word.
			swaksSend(t, swaks, inst.smtp, "ana@example.com", agentAddr.Address,
				[]string{"Subject: Re: [#1] Printer on fire"}, "#status resolved\n\nGlad it is out. Closing this.")
			last := mailsTo(t, sink, "alice@example.org", "agent_reply", 2)[1]
			if !strings.Contains(string(last.Raw), "/l/") || strings.Contains(string(last.Raw), "#status") {
				t.Errorf("resolving reply lacks the close link or leaks the command:\n%s", last.Raw)
			}
			inst.cliJSON(&show, "ticket", "show", "1")
			if show.Status != "resolved" {
				t.Errorf("status = %s, want resolved", show.Status)
			}

			// 5. A forged agent reply and a mistyped command reach no customer.
			before := countTo(sink, "alice@example.org")
			swaksSend(t, swaks, inst.smtp, "mallory@evil.test", agentAddr.Address,
				[]string{"Subject: Re: [#1]"}, "Please send your password to mallory@evil.test")
			swaksSend(t, swaks, inst.smtp, "ana@example.com", agentAddr.Address,
				[]string{"Subject: Re: [#1]"}, "#stauts open\nReopening.")
			errMail := mailsTo(t, sink, "ana@example.com", "agent_command_error", 1)[0]
			if !strings.Contains(string(errMail.Raw), "stauts") {
				t.Errorf("the explanation does not name the bad command:\n%s", errMail.Raw)
			}
			waitFor(t, "nothing in flight", 15*time.Second, inst.settled)
			if after := countTo(sink, "alice@example.org"); after != before {
				t.Errorf("customer got %d more mails after a forged reply and a bad command", after-before)
			}
			inst.cliJSON(&show, "ticket", "show", "1")
			if show.Status != "resolved" {
				t.Errorf("status = %s after the refused mails, want resolved", show.Status)
			}
			for _, m := range show.Messages {
				if strings.Contains(m.Text, "password") && m.Kind == "agent" {
					t.Errorf("forged message stored as an agent message: %+v", m)
				}
			}
			_ = threading.RoleAgent
		})
	}
}

// TestAnUnauthenticatedAgentReplyReachesOnlyTheAgent: an agent at the company's domain
// answers from a server that publishes no SPF and does not sign. mxdesk refuses to relay
// it, and tells the agent at the configured address why and what fixes it, instead of
// leaving them believing the customer was answered. `ticket show` prints what people
// read, `--full` what arrived.
func TestAnUnauthenticatedAgentReplyReachesOnlyTheAgent(t *testing.T) {
	swaks := needPeer(t, "swaks")
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			sink := sinktest.Start(t)
			inst := newInstance(t, mkURL(t), sink.Addr, `[[agents]]
email = "ana@example.com"
name = "Ana Agent"
team = "Support"
`)
			inst.start()
			swaksSend(t, swaks, inst.smtp, "alice@example.org", "support@example.com",
				[]string{"Subject: Printer on fire", "Message-Id: <u1@example.org>"},
				"It is still burning.\n\nOn Mon, 23 Nov 2026, Bob wrote:\n> Have you tried turning it off?")
			mailsTo(t, sink, "alice@example.org", "acknowledgement", 1)
			note := mailsTo(t, sink, "ana@example.com", "agent_notification", 1)[0]
			agentAddr, err := mail.ParseAddress(note.Header.Get("Reply-To"))
			if err != nil {
				t.Fatalf("agent notification Reply-To %q", note.Header.Get("Reply-To"))
			}
			for i := range 2 {
				swaksSend(t, swaks, inst.smtp, "ana@example.com", agentAddr.Address,
					[]string{"Subject: Re: [#1] Printer on fire", fmt.Sprintf("Message-Id: <ana%d@example.com>", i)},
					"Please switch it off at the wall.")
			}
			notice := mailsTo(t, sink, "ana@example.com", "agent_reply_refused", 1)[0]
			body := strings.ReplaceAll(string(notice.Raw), "=\r\n", "")
			for _, want := range []string{"NOT sent", "SPF", "DKIM", "trusted_unauthenticated_domains", "switch it off at the wall"} {
				if !strings.Contains(body, want) {
					t.Errorf("the notice does not say %q:\n%s", want, notice.Raw)
				}
			}
			// The refusal, the notice and any mail to Alice would be written in the one
			// transaction that handled the reply: the outbox is the whole truth.
			var out []struct {
				Kind   string `json:"kind"`
				RcptTo string `json:"rcpt_to"`
			}
			waitFor(t, "both replies handled", 15*time.Second, func() bool {
				var show ticketOut
				inst.cliJSON(&show, "ticket", "show", "1")
				return len(show.Messages) == 3
			})
			inst.cliJSON(&out, "queue", "outbound")
			kinds := map[string]int{}
			for _, o := range out {
				kinds[o.Kind+" to "+o.RcptTo]++
			}
			want := map[string]int{"acknowledgement to alice@example.org": 1, "agent_notification to ana@example.com": 1,
				"agent_reply_refused to ana@example.com": 1}
			if fmt.Sprint(kinds) != fmt.Sprint(want) {
				t.Errorf("outbox holds %v, want %v (nothing to Alice but the acknowledgement, one notice for two replies)", kinds, want)
			}

			var show struct {
				Messages []struct {
					Kind     string `json:"kind"`
					Text     string `json:"text"`
					TextFull string `json:"text_full"`
				} `json:"messages"`
			}
			inst.cliJSON(&show, "ticket", "show", "1")
			first := show.Messages[0]
			if strings.Contains(first.Text, "turning it off") || !strings.Contains(first.TextFull, "turning it off") || !strings.Contains(first.Text, "still burning") {
				t.Errorf("text %q / text_full %q: want the quote stripped from text only", first.Text, first.TextFull)
			}
			if k := show.Messages[1].Kind; k != "agent_refused" {
				t.Errorf("the refused reply is stored as %q, want agent_refused", k)
			}
			if plain := inst.cli("ticket", "show", "1"); strings.Contains(plain, "turning it off") {
				t.Errorf("ticket show prints the quoted history:\n%s", plain)
			}
			if full := inst.cli("ticket", "show", "1", "--full"); !strings.Contains(full, "turning it off") {
				t.Errorf("ticket show --full leaves out the quoted history:\n%s", full)
			}
		})
	}
}
