package api_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/api"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// outbox returns the mail queued for a ticket, as "kind>rcpt" in order.
func (f *fixture) outbox(id int64) []string {
	f.t.Helper()
	rows, err := f.st.ListOutbox(f.ctx, "", id, 100)
	storetest.MustNotErr(f.t, "outbox", err)
	var out []string
	for i := len(rows) - 1; i >= 0; i-- { // oldest first
		out = append(out, rows[i].Kind+">"+rows[i].RcptTo)
	}
	return out
}

func (f *fixture) count(what string, args ...any) int {
	f.t.Helper()
	var n int
	storetest.MustNotErr(f.t, what, f.st.DB.Get(&n, f.st.DB.Rebind(what), args...))
	return n
}

func (f *fixture) ticket(id int64) *store.Ticket {
	f.t.Helper()
	tk, err := store.GetTicket(f.ctx, f.st.DB, id)
	storetest.MustNotErr(f.t, "ticket", err)
	return tk
}

// etagOf is the ETag the API gives a ticket's current version.
func etagOf(tk *store.Ticket) string {
	return fmt.Sprintf(`"%d-%d"`, tk.ID, tk.UpdatedAt.UnixMicro())
}

// multipartBody builds a multipart/form-data body from fields and files.
func multipartBody(t *testing.T, fields map[string]string, files map[string][]byte) (string, *bytes.Buffer) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		storetest.MustNotErr(t, "field", mw.WriteField(k, v))
	}
	for name, data := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="attachments"; filename=%q`, name))
		h.Set("Content-Type", "text/plain")
		w, err := mw.CreatePart(h)
		storetest.MustNotErr(t, "part", err)
		w.Write(data)
	}
	storetest.MustNotErr(t, "close", mw.Close())
	return mw.FormDataContentType(), &b
}

func TestARepliedMessageGoesToTheCustomerAndANoteToNobody(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, _ := f.seed(1, 0)
		id := support[0]
		path := fmt.Sprintf("/api/v1/tickets/%d/messages", id)
		before := len(f.outbox(id))

		r := f.json("POST", path, "ana", map[string]string{"type": "note", "body": "Asked facilities."})
		var note api.Message
		r.decode(t, &note)
		if r.status != 201 || note.Kind != "note" || !note.Internal || note.Direction != "out" || note.From.Email != "ana@example.com" {
			t.Fatalf("note: %d %+v", r.status, note)
		}
		if got := f.outbox(id); len(got) != before {
			t.Errorf("a note queued mail: %v", got)
		}

		r = f.json("POST", path, "ana", map[string]string{"type": "reply", "body": "Please switch it off."})
		var reply api.Message
		r.decode(t, &reply)
		if r.status != 201 || reply.Kind != "agent" || reply.Internal || reply.Text != "Please switch it off." {
			t.Fatalf("reply: %d %+v", r.status, reply)
		}
		if got := f.outbox(id); len(got) != before+1 || got[len(got)-1] != outbound.KindAgentReply+">alice@example.org" {
			t.Errorf("outbox after the reply: %v", got)
		}
		if tk := f.ticket(id); tk.Status != "in_progress" || tk.FirstRespondedAt == nil {
			t.Errorf("after the first reply: %s, first response %v", tk.Status, tk.FirstRespondedAt)
		}

		// Multipart, with a file, resolving the ticket in the same request.
		ct, body := multipartBody(t, map[string]string{"type": "reply", "body": "Here is how.", "status": "resolved"},
			map[string][]byte{"howto.txt": []byte("Switch it off at the wall.")})
		r = f.do("POST", path, "ana", body, "Content-Type", ct)
		r.decode(t, &reply)
		if r.status != 201 || len(reply.Attachments) != 1 || reply.Attachments[0].Filename != "howto.txt" {
			t.Fatalf("multipart reply: %d %s", r.status, r.body)
		}
		if got := f.get(reply.Attachments[0].URL, "ana"); string(got.body) != "Switch it off at the wall." {
			t.Errorf("the attachment as stored: %q", got.body)
		}
		if tk := f.ticket(id); tk.Status != "resolved" {
			t.Errorf("status %s, want resolved", tk.Status)
		}
		got := f.outbox(id)
		if got[len(got)-1] != outbound.KindAgentReply+">alice@example.org" || strings.Contains(strings.Join(got, " "), outbound.KindStatusChanged) {
			t.Errorf("outbox: %v; want the reply and no separate status mail", got)
		}
		var msgs messagesOut
		f.get(path, "ana").decode(t, &msgs)
		if len(msgs.Data) != 4 || !msgs.Data[1].Internal || msgs.Data[2].Internal {
			t.Errorf("conversation: %d messages", len(msgs.Data))
		}
	})
}

func TestARetriedPostWithTheSameIdempotencyKeySendsNothingTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, _ := f.seed(1, 0)
		id := support[0]
		path := fmt.Sprintf("/api/v1/tickets/%d/messages", id)
		replies := func() int {
			return f.count("SELECT COUNT(*) FROM outbox WHERE ticket_id = ? AND kind = ?", id, outbound.KindAgentReply)
		}
		body := map[string]string{"type": "reply", "body": "Once only."}
		first := f.json("POST", path, "ana", body, "Idempotency-Key", "k-1")
		again := f.json("POST", path, "ana", body, "Idempotency-Key", "k-1")
		if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: %d %s / %d %s", first.status, first.body, again.status, again.body)
		}
		if n := replies(); n != 1 {
			t.Fatalf("%d replies queued, want 1", n)
		}
		// The key with another body is a mistake, not a retry.
		other := f.json("POST", path, "ana", map[string]string{"type": "reply", "body": "Something else."}, "Idempotency-Key", "k-1")
		if other.status != 409 {
			t.Errorf("key reused for another body: %d", other.status)
		}
		other.problem(t)
		// Another token's key space is its own.
		if r := f.json("POST", path, "admin", body, "Idempotency-Key", "k-1"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
			t.Errorf("admin with ana's key: %d %v", r.status, r.header)
		}
		// Eight retries at once: one message, one mail, every answer the same.
		before := replies()
		var wg sync.WaitGroup
		answers := make([]response, 8)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = f.json("POST", path, "ana", map[string]string{"type": "reply", "body": "Concurrent."}, "Idempotency-Key", "k-2")
			}()
		}
		wg.Wait()
		for _, a := range answers {
			if a.status != 201 || !bytes.Equal(a.body, answers[0].body) {
				t.Errorf("concurrent retry: %d %s, first %s", a.status, a.body, answers[0].body)
			}
		}
		if n := replies() - before; n != 1 {
			t.Errorf("%d replies from 8 concurrent retries, want 1", n)
		}
		if n := f.count("SELECT COUNT(*) FROM messages WHERE ticket_id = ? AND text_body = 'Concurrent.'", id); n != 1 {
			t.Errorf("%d messages from 8 concurrent retries, want 1", n)
		}
		// A day later the key is forgotten: the same request is a new reply.
		f.clock.add(25 * time.Hour)
		before = replies()
		if r := f.json("POST", path, "ana", body, "Idempotency-Key", "k-1"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" || replies() != before+1 {
			t.Errorf("a day-old key: %d %v, %d new replies", r.status, r.header, replies()-before)
		}
	})
}

func TestBadWritesGetAProblemAndChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st, func(c *api.Config) { c.MaxJSONBytes, c.MaxUploadBytes = 4096, 8192 })
		support, billing := f.seed(1, 1)
		msgs := fmt.Sprintf("/api/v1/tickets/%d/messages", support[0])
		tk := fmt.Sprintf("/api/v1/tickets/%d", support[0])
		snapshot := func() string {
			return fmt.Sprint(f.count("SELECT COUNT(*) FROM messages"), f.count("SELECT COUNT(*) FROM outbox"),
				f.count("SELECT COUNT(*) FROM events"), f.count("SELECT COUNT(*) FROM tickets"))
		}
		bigCT, bigBody := multipartBody(t, map[string]string{"type": "reply", "body": "x"}, map[string][]byte{"big.bin": bytes.Repeat([]byte("x"), 9000)})
		badCT, badBody := multipartBody(t, map[string]string{"type": "reply", "body": "x", "cc": "mallory@example.net"}, nil)
		json := "application/json"
		for _, tc := range []struct {
			name, method, path, who, ctype, body string
			header                               []string
			status                               int
			field                                string
		}{
			{"malformed JSON", "POST", msgs, "ana", json, `{"type": "reply", "body": `, nil, 400, ""},
			{"not an object", "POST", msgs, "ana", json, `["reply"]`, nil, 400, ""},
			{"two objects", "POST", msgs, "ana", json, `{"type":"note","body":"a"}{"type":"note","body":"b"}`, nil, 400, ""},
			{"unknown field", "POST", msgs, "ana", json, `{"type":"reply","body":"hi","cc":"mallory@example.net"}`, nil, 400, ""},
			{"wrong type of value", "POST", msgs, "ana", json, `{"type":"reply","body":42}`, nil, 400, ""},
			{"empty body", "POST", msgs, "ana", json, ``, nil, 400, ""},
			{"no content type", "POST", msgs, "ana", "", `{"type":"reply","body":"hi"}`, nil, 415, ""},
			{"form encoded", "POST", msgs, "ana", "application/x-www-form-urlencoded", `type=reply&body=hi`, nil, 415, ""},
			{"too large", "POST", msgs, "ana", json, `{"type":"reply","body":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, ""},
			{"multipart too large", "POST", msgs, "ana", bigCT, bigBody.String(), nil, 413, ""},
			{"multipart unknown field", "POST", msgs, "ana", badCT, badBody.String(), nil, 400, ""},
			{"multipart without boundary", "POST", msgs, "ana", "multipart/form-data", "--x--", nil, 400, ""},
			{"unknown type", "POST", msgs, "ana", json, `{"type":"email","body":"hi"}`, nil, 422, "type"},
			{"blank text", "POST", msgs, "ana", json, `{"type":"reply","body":"  \n"}`, nil, 422, "body"},
			{"unknown status", "POST", msgs, "ana", json, `{"type":"reply","body":"hi","status":"done"}`, nil, 422, "status"},
			{"bad idempotency key", "POST", msgs, "ana", json, `{"type":"reply","body":"hi"}`, []string{"Idempotency-Key", "caf\u00e9"}, 400, ""},
			{"another team's ticket", "POST", fmt.Sprintf("/api/v1/tickets/%d/messages", billing[0]), "ana", json, `{"type":"reply","body":"hi"}`, nil, 404, ""},
			{"no such ticket", "POST", "/api/v1/tickets/424242/messages", "ana", json, `{"type":"reply","body":"hi"}`, nil, 404, ""},
			{"no token", "POST", msgs, "", json, `{"type":"reply","body":"hi"}`, nil, 401, ""},
			{"patch: nothing", "PATCH", tk, "ana", json, `{}`, nil, 422, ""},
			{"patch: unknown field", "PATCH", tk, "ana", json, `{"subject":"x"}`, nil, 400, ""},
			{"patch: status", "PATCH", tk, "ana", json, `{"status":"done"}`, nil, 422, "status"},
			{"patch: priority", "PATCH", tk, "ana", json, `{"priority":"asap"}`, nil, 422, "priority"},
			{"patch: team", "PATCH", tk, "ana", json, `{"team":"Nope"}`, nil, 422, "team"},
			{"patch: assignee", "PATCH", tk, "ana", json, `{"assignee":"zed@example.com"}`, nil, 422, "assignee"},
			{"patch: stale If-Match", "PATCH", tk, "ana", json, `{"status":"resolved"}`, []string{"If-Match", `"1-1"`}, 409, ""},
			{"patch: another team's ticket", "PATCH", fmt.Sprintf("/api/v1/tickets/%d", billing[0]), "ana", json, `{"status":"closed"}`, nil, 404, ""},
			{"patch: text/plain", "PATCH", tk, "ana", "text/plain", `{"status":"closed"}`, nil, 415, ""},
			{"create: bad address", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"not an address"},"subject":"s","body":"b"}`, nil, 422, "contact.email"},
			{"create: our own mailbox", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"support@example.com"},"subject":"s","body":"b"}`, nil, 422, "contact.email"},
			{"create: another team's mailbox", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"eve@example.org"},"subject":"s","body":"b","mailbox":"billing@example.com"}`, nil, 422, "mailbox"},
			{"create: unknown mailbox", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"eve@example.org"},"subject":"s","body":"b","mailbox":"sales@example.com"}`, nil, 422, "mailbox"},
			{"create: no subject", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"eve@example.org"},"subject":" ","body":"b"}`, nil, 422, "subject"},
			{"create: header injection", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"eve@example.org"},"subject":"s\r\nBcc: x@example.net","body":"b"}`, nil, 422, "subject"},
			{"create: bad field name", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"eve@example.org"},"subject":"s","body":"b","fields":{"Bad-Name":"x"}}`, nil, 422, "fields.Bad-Name"},
			{"create: field not a string", "POST", "/api/v1/tickets", "ana", json, `{"contact":{"email":"eve@example.org"},"subject":"s","body":"b","fields":{"n":1}}`, nil, 400, ""},
			{"create: no team", "POST", "/api/v1/tickets", "nobody", json, `{"contact":{"email":"eve@example.org"},"subject":"s","body":"b"}`, nil, 422, "mailbox"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := snapshot()
				h := tc.header
				if tc.ctype != "" {
					h = append([]string{"Content-Type", tc.ctype}, h...)
				}
				r := f.do(tc.method, tc.path, tc.who, strings.NewReader(tc.body), h...)
				if r.status != tc.status {
					t.Fatalf("%d, want %d: %s", r.status, tc.status, r.body)
				}
				p := r.problem(t)
				if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
					t.Errorf("errors %+v, want field %s", p.Errors, tc.field)
				}
				if after := snapshot(); after != before {
					t.Errorf("rows (messages, outbox, events, tickets) went from %s to %s", before, after)
				}
			})
		}
	})
}

func TestAPatchChangesATicketAsTheAgentsCommandsDo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, _ := f.seed(1, 0)
		id := support[0]
		path := fmt.Sprintf("/api/v1/tickets/%d", id)
		tag := f.get(path, "ana").header.Get("ETag")
		old := f.ticket(id)

		r := f.json("PATCH", path, "ana", map[string]any{"priority": "urgent", "assignee": "ana@example.com"}, "If-Match", tag)
		var tk api.Ticket
		r.decode(t, &tk)
		if r.status != 200 || tk.Priority != "urgent" || tk.Assignee == nil || tk.Assignee.Email != "ana@example.com" || r.header.Get("ETag") == tag {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		if got := f.walk("/api/v1/tickets?assignee=ana@example.com&priority=urgent", "ana"); fmt.Sprint(got) != fmt.Sprint([]int64{id}) {
			t.Errorf("tickets assigned to ana: %v", got)
		}
		if got := f.walk("/api/v1/tickets?assignee=none", "ana"); len(got) != 0 {
			t.Errorf("unassigned tickets: %v", got)
		}
		// The old version is stale now: 409, and nothing changes.
		if r := f.json("PATCH", path, "ana", map[string]any{"status": "closed"}, "If-Match", tag); r.status != 409 {
			t.Fatalf("stale If-Match: %d", r.status)
		}
		if f.ticket(id).Status != "open" {
			t.Fatal("a stale PATCH changed the status")
		}
		// Resolving tells the customer, with the close link, as #status resolved does.
		r = f.json("PATCH", path, "ana", map[string]any{"status": "resolved", "assignee": nil}, "If-Match", etagOf(f.ticket(id)))
		r.decode(t, &tk)
		if r.status != 200 || tk.Status != "resolved" || tk.Assignee != nil || tk.SLA.ResolvedAt == nil {
			t.Fatalf("resolve: %d %s", r.status, r.body)
		}
		if got := f.outbox(id); got[len(got)-1] != outbound.KindStatusChanged+">alice@example.org" {
			t.Errorf("outbox: %v", got)
		}
		if old.ResponseBy.Equal(*f.ticket(id).ResponseBy) {
			t.Errorf("urgent did not move the response deadline")
		}
		// Handing the ticket to Billing: ana is shown the result, then no longer sees it.
		r = f.json("PATCH", path, "ana", map[string]any{"team": "Billing"})
		r.decode(t, &tk)
		if r.status != 200 || tk.Team.Name != "Billing" {
			t.Fatalf("team: %d %s", r.status, r.body)
		}
		if r := f.get(path, "ana"); r.status != 404 {
			t.Errorf("ana after handing it over: %d", r.status)
		}
		if r := f.get(path, "bob"); r.status != 200 {
			t.Errorf("bob after the handover: %d", r.status)
		}
		events := f.count("SELECT COUNT(*) FROM events WHERE ticket_id = ? AND actor = 'ana@example.com' AND kind IN ('priority_changed','assigned','status_changed','team_changed')", id)
		if events != 5 {
			t.Errorf("%d events by ana, want 5 (priority, assigned, unassigned, status, team)", events)
		}
	})
}

func TestATicketOpenedForACustomerIsAcknowledgedLikeAMailedOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		r := f.json("POST", "/api/v1/tickets", "bob", map[string]any{
			"contact": map[string]string{"email": "erin@example.org", "name": "Erin"}, "subject": "Refund", "body": "Called about a refund.",
		}, "Idempotency-Key", "call-17")
		var tk api.Ticket
		r.decode(t, &tk)
		if r.status != 201 || tk.Team.Name != "Billing" || tk.Priority != "high" || tk.Contact.Email != "erin@example.org" ||
			tk.Mailbox != "billing@example.com" || r.header.Get("Location") != fmt.Sprintf("/api/v1/tickets/%d", tk.ID) {
			t.Fatalf("create: %d %s %v", r.status, r.body, r.header)
		}
		if got := f.outbox(tk.ID); len(got) != 2 || got[0] != outbound.KindAgentNotification+">bob@example.com" || got[1] != outbound.KindAck+">erin@example.org" {
			t.Errorf("outbox %v: want bob told and erin acknowledged", got)
		}
		if again := f.json("POST", "/api/v1/tickets", "bob", map[string]any{
			"contact": map[string]string{"email": "erin@example.org", "name": "Erin"}, "subject": "Refund", "body": "Called about a refund.",
		}, "Idempotency-Key", "call-17"); again.status != 201 || f.count("SELECT COUNT(*) FROM tickets") != 1 {
			t.Errorf("retried create: %d, %d tickets", again.status, f.count("SELECT COUNT(*) FROM tickets"))
		}
		r = f.json("POST", "/api/v1/tickets", "admin", map[string]any{
			"contact": map[string]string{"email": "erin@example.org"}, "subject": "Quiet", "body": "No mail please.",
			"mailbox": "support@example.com", "acknowledge": false, "priority": "low",
			"fields": map[string]string{"version": "1.2", "order_no": "A-17"},
		})
		r.decode(t, &tk)
		if r.status != 201 || tk.Team.Name != "Support" || tk.Priority != "low" {
			t.Fatalf("admin create: %d %s", r.status, r.body)
		}
		// The custom fields are stored with the ticket and shown with it, not in lists.
		var got api.Ticket
		f.get(fmt.Sprintf("/api/v1/tickets/%d", tk.ID), "ana").decode(t, &got)
		if got.Fields == nil || fmt.Sprint(*got.Fields) != "[{order_no order_no A-17} {version version 1.2}]" {
			t.Errorf("fields %+v", got.Fields)
		}
		var list ticketPage
		f.get("/api/v1/tickets", "ana").decode(t, &list)
		if len(list.Data) == 0 || list.Data[0].Fields != nil {
			t.Errorf("a list carries fields: %+v", list.Data)
		}
		for _, o := range f.outbox(tk.ID) {
			if strings.HasPrefix(o, outbound.KindAck) {
				t.Errorf("acknowledged although declined: %v", o)
			}
		}
	})
}

// TestOfTwoPatchesOfOneVersionOnlyOneWins sends the same If-Match from several
// clients at once: one changes the ticket, the others get 409 and change nothing.
func TestOfTwoPatchesOfOneVersionOnlyOneWins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, _ := f.seed(1, 0)
		path := fmt.Sprintf("/api/v1/tickets/%d", support[0])
		tag := f.get(path, "ana").header.Get("ETag")
		prios := []string{"low", "high", "urgent", "low", "high", "urgent"}
		codes := make([]int, len(prios))
		var wg sync.WaitGroup
		for i, p := range prios {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = f.json("PATCH", path, "ana", map[string]string{"priority": p}, "If-Match", tag).status
			}()
		}
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case 200:
				won++
			case 409:
			default:
				t.Errorf("status %d", c)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d patches of one version won (%v), want 1", won, len(codes), codes)
		}
		if n := f.count("SELECT COUNT(*) FROM events WHERE ticket_id = ? AND kind = 'priority_changed'", support[0]); n != 1 {
			t.Errorf("%d priority changes recorded, want 1", n)
		}
	})
}
