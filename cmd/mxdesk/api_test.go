package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// portalAddr reads the portal's listen address from the instance's config.
func (inst *instance) portalAddr() string {
	inst.t.Helper()
	b, err := os.ReadFile(inst.cfgPath)
	if err != nil {
		inst.t.Fatal(err)
	}
	m := regexp.MustCompile(`\[portal\]\nlisten = "([^"]+)"`).FindSubmatch(b)
	if m == nil {
		inst.t.Fatalf("no [portal] listen in\n%s", b)
	}
	return string(m[1])
}

// apiCall sends one request to the running serve's API and decodes the JSON answer.
func apiCall(t *testing.T, base, token, method, path string, body any, out any, header ...string) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// headerNames lists a mail's header field names, sorted, without the per-message ones.
func headerNames(h mail.Header) []string {
	var out []string
	for k := range h {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAReplyThroughTheAPIReachesTheCustomerAsAnEmailedOneDoes runs serve with a real
// SMTP sink as its relay: a customer mails in, an agent answers through the API, the
// customer answers that mail and the answer lands on the ticket; then the agent answers
// by mail, and the two replies the customer got carry the same headers.
func TestAReplyThroughTheAPIReachesTheCustomerAsAnEmailedOneDoes(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			sink := sinktest.Start(t)
			inst := newInstance(t, mkURL(t), sink.Addr, `[[agents]]
email = "ana@example.com"
name = "Ana Agent"
team = "Support"
`)
			inst.env = append(inst.env, "MXDESK_TRUSTED_UNAUTHENTICATED_DOMAINS=example.com,example.org")
			inst.start()
			base := "http://" + inst.portalAddr() + "/api/v1"

			// The customer writes; Ana hears of it.
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, "From: Alice <alice@example.org>\r\n"+
				"To: support@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <c1@example.org>\r\n\r\nThe printer is on fire.\r\n"); err != nil {
				t.Fatal(err)
			}
			mailsTo(t, sink, "alice@example.org", "acknowledgement", 1)
			note := mailsTo(t, sink, "ana@example.com", "agent_notification", 1)[0]

			out := inst.cli("agent", "token", "ana@example.com", "--name", "e2e")
			token := regexp.MustCompile(`mxd_[A-Za-z0-9_-]{43}`).FindString(out)
			if token == "" {
				t.Fatalf("no token in %q", out)
			}
			var list struct {
				Data []struct {
					ID     int64  `json:"id"`
					Status string `json:"status"`
				} `json:"data"`
			}
			waitFor(t, "the API", 10*time.Second, func() bool {
				return apiCall(t, base, token, "GET", "/tickets?status=open", nil, &list) == 200 && len(list.Data) == 1
			})

			// Ana answers through the API; a retry of the same request sends nothing more.
			reply := map[string]string{"type": "reply", "body": "Please switch it off at the wall."}
			for range 2 {
				if code := apiCall(t, base, token, "POST", "/tickets/1/messages", reply, nil, "Idempotency-Key", "r1"); code != 201 {
					t.Fatalf("POST reply: %d", code)
				}
			}
			viaAPI := mailsTo(t, sink, "alice@example.org", "agent_reply", 1)[0]
			from, _ := mail.ParseAddress(viaAPI.Header.Get("From"))
			if from == nil || from.Address != "support@example.com" || !strings.Contains(from.Name, "Ana Agent") {
				t.Errorf("API reply From %q: want Ana's name at the mailbox address", viaAPI.Header.Get("From"))
			}
			if got := viaAPI.Header.Get("In-Reply-To"); got != "<c1@example.org>" {
				t.Errorf("API reply In-Reply-To %q, want the customer's message", got)
			}
			if !strings.Contains(viaAPI.Header.Get("References"), "<c1@example.org>") || !strings.Contains(viaAPI.Header.Get("Subject"), "[#1]") {
				t.Errorf("API reply not threaded: References %q, Subject %q", viaAPI.Header.Get("References"), viaAPI.Header.Get("Subject"))
			}
			if !strings.Contains(string(viaAPI.Raw), "switch it off at the wall") {
				t.Errorf("API reply lacks the text:\n%s", viaAPI.Raw)
			}
			custAddr, _ := mail.ParseAddress(viaAPI.Header.Get("Reply-To"))
			if custAddr == nil || !strings.HasPrefix(custAddr.Address, "support+t1-") {
				t.Fatalf("API reply Reply-To %q", viaAPI.Header.Get("Reply-To"))
			}
			var tk struct {
				Status string `json:"status"`
				SLA    struct {
					FirstRespondedAt *string `json:"first_responded_at"`
				} `json:"sla"`
			}
			apiCall(t, base, token, "GET", "/tickets/1", nil, &tk)
			if tk.Status != "in_progress" || tk.SLA.FirstRespondedAt == nil {
				t.Errorf("after the API reply: %+v", tk)
			}

			// The customer answers that mail; it lands on ticket 1 and Ana hears of it.
			if err := send(inst.smtp, "alice@example.org", []string{custAddr.Address}, "From: Alice <alice@example.org>\r\n"+
				"To: "+custAddr.Address+"\r\nSubject: Re: [#1] Printer on fire\r\nMessage-ID: <c2@example.org>\r\n"+
				"In-Reply-To: "+viaAPI.Header.Get("Message-ID")+"\r\n\r\nDone, it is out.\r\n"); err != nil {
				t.Fatal(err)
			}
			mailsTo(t, sink, "ana@example.com", "agent_notification", 2)
			var msgs struct {
				Data []struct {
					Kind string `json:"kind"`
					Text string `json:"text"`
				} `json:"data"`
			}
			apiCall(t, base, token, "GET", "/tickets/1/messages", nil, &msgs)
			if len(msgs.Data) != 3 || msgs.Data[2].Kind != "customer" || !strings.Contains(msgs.Data[2].Text, "Done, it is out.") {
				t.Errorf("messages after the customer's answer: %+v", msgs.Data)
			}

			// Ana answers by mail: the customer gets the same kind of mail.
			agentAddr, _ := mail.ParseAddress(note.Header.Get("Reply-To"))
			if err := send(inst.smtp, "ana@example.com", []string{agentAddr.Address}, "From: Ana <ana@example.com>\r\n"+
				"To: "+agentAddr.Address+"\r\nSubject: Re: [#1] Printer on fire\r\n\r\nGood. Anything else?\r\n"); err != nil {
				t.Fatal(err)
			}
			viaMail := mailsTo(t, sink, "alice@example.org", "agent_reply", 2)[1]
			if a, b := strings.Join(headerNames(viaAPI.Header), " "), strings.Join(headerNames(viaMail.Header), " "); a != b {
				t.Errorf("header fields differ:\nAPI  %s\nmail %s", a, b)
			}
			for _, h := range []string{"From", "Reply-To", "Subject", "X-Mxdesk-Kind", "Auto-Submitted"} {
				if viaAPI.Header.Get(h) != viaMail.Header.Get(h) {
					t.Errorf("%s: API %q, mail %q", h, viaAPI.Header.Get(h), viaMail.Header.Get(h))
				}
			}
			if got := viaMail.Header.Get("In-Reply-To"); got != "<c2@example.org>" {
				t.Errorf("emailed reply In-Reply-To %q", got)
			}
			if n := countTo(sink, "alice@example.org"); n != 3 {
				t.Errorf("alice got %d mails, want 3 (acknowledgement and two replies)", n)
			}
		})
	}
}
