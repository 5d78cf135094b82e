package portal_test

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/ticket"
)

// mailTicket opens a ticket as a mail would, through the ticket service: a message with
// an attachment and its raw original, cc'd to the given addresses.
func (f *accFixture) mailTicket(t *testing.T, from, subject, text string, cc ...string) (ticketID, attachmentID, messageID int64) {
	t.Helper()
	ctx := context.Background()
	err := f.st.Tx(ctx, func(tx *sqlx.Tx) error {
		team, err := store.EnsureTeam(ctx, tx, "Support")
		if err != nil {
			return err
		}
		raw := []byte("From: " + from + "\r\nSubject: " + subject + "\r\n\r\n" + text + "\r\n")
		sum, err := store.PutBlob(ctx, tx, raw)
		if err != nil {
			return err
		}
		m := ticket.Incoming{From: ticket.Person{Email: from}, Subject: subject, Text: text, RawSHA256: &sum,
			MessageID:   fmt.Sprintf("%d.%s", time.Now().UnixNano(), from),
			Attachments: []ticket.File{{Filename: "report.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 " + subject)}}}
		for _, c := range cc {
			m.Cc = append(m.Cc, mailAddr(c))
		}
		ticketID, messageID, err = f.tickets.Create(ctx, tx, ticket.NewTicket{Subject: subject, TeamID: team, Mailbox: "support@example.com",
			Source: ticket.SourceMail, Message: m})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	atts, err := store.ListAttachments(ctx, f.st.DB, ticketID)
	if err != nil || len(atts[messageID]) != 1 {
		t.Fatalf("attachments: %v %v", atts, err)
	}
	return ticketID, atts[messageID][0].ID, messageID
}

// agentAnswer stores an agent's answer and an internal note on a ticket, as agent mail would.
func (f *accFixture) agentAnswer(t *testing.T, id int64, text string) {
	t.Helper()
	ctx := context.Background()
	for _, kind := range []string{ticket.MsgAgent, ticket.MsgNote, ticket.MsgAuto} {
		body := text
		switch kind {
		case ticket.MsgNote:
			body = "INTERNAL NOTE: " + text
		case ticket.MsgAuto:
			body = "I am out of the office."
		}
		if err := store.InsertMessage(ctx, f.st.DB, &store.Message{TicketID: id, Direction: store.DirOut, Kind: kind,
			FromAddr: "ana@example.com", FromName: "Ana", Text: body, CreatedAt: store.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *accFixture) ticketRow(t *testing.T, id int64) *store.Ticket {
	t.Helper()
	tk, err := store.GetTicket(context.Background(), f.st.DB, id)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

var ticketURL = regexp.MustCompile(`^/my-tickets/(\d+)`)

func TestATicketMailedBeforeTheAccountIsInTheList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		id, _, _ := f.mailTicket(t, "alice@example.org", "Printer on fire", "It burns.")
		ccID, _, _ := f.mailTicket(t, "boss@example.org", "Budget printer", "Alice knows.", "alice@example.org")
		f.mailTicket(t, "mallory@example.org", "Mallory's own", "Not Alice's.")
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		r := b.get("/my-tickets")
		if r.Code != 200 || !strings.Contains(r.Body, fmt.Sprintf(`href="/my-tickets/%d">Printer on fire`, id)) ||
			!strings.Contains(r.Body, fmt.Sprintf(`href="/my-tickets/%d">Budget printer`, ccID)) || strings.Contains(r.Body, "Mallory") {
			t.Fatalf("/my-tickets: %d\n%s", r.Code, r.Body)
		}
		r = b.get("/")
		if !strings.Contains(r.Body, `<span id="active-count">2</span>`) || !strings.Contains(r.Body, `href="/my-tickets/new"`) {
			t.Errorf("home:\n%s", r.Body)
		}
		if r := b.get(fmt.Sprintf("/my-tickets/%d", id)); r.Code != 200 || !strings.Contains(r.Body, "It burns.") ||
			!strings.Contains(r.Body, "We typically respond within") {
			t.Errorf("ticket page: %d\n%s", r.Code, r.Body)
		}
		// Signed out, the pages lead to sign-in and back.
		if r := f.browser(t).get(fmt.Sprintf("/my-tickets/%d", id)); r.URL != fmt.Sprintf("/login?next=%%2Fmy-tickets%%2F%d", id) {
			t.Errorf("signed out: %s", r.URL)
		}
	})
}

func TestTheListFiltersSearchesSortsAndPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		var ids []int64
		for i := range 30 {
			id, _, _ := f.mailTicket(t, "alice@example.org", fmt.Sprintf("Question %02d", i), fmt.Sprintf("body number %d", i))
			ids = append(ids, id)
		}
		if err := f.tickets.ChangeStatus(context.Background(), ids[3], ticket.StatusResolved, "agent"); err != nil {
			t.Fatal(err)
		}
		f.mailTicket(t, "alice@example.org", "Special 100%_offer", "the word zebra is in here")
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		count := func(body string) int { return strings.Count(body, `<tr`) - 1 } // minus the header row
		if r := b.get("/my-tickets"); count(r.Body) != 25 || !strings.Contains(r.Body, "Page 1 of 2") || !strings.Contains(r.Body, `href="/my-tickets?page=2"`) {
			t.Errorf("page 1: %d rows\n%s", count(r.Body), r.Body)
		}
		if r := b.get("/my-tickets?page=2"); count(r.Body) != 6 {
			t.Errorf("page 2: %d rows", count(r.Body))
		}
		if r := b.get("/my-tickets?status=resolved"); count(r.Body) != 1 || !strings.Contains(r.Body, "Question 03") {
			t.Errorf("resolved: %d rows\n%s", count(r.Body), r.Body)
		}
		if r := b.get("/my-tickets?q=zebra"); count(r.Body) != 1 || !strings.Contains(r.Body, "Special") {
			t.Errorf("search in messages: %d rows", count(r.Body))
		}
		if r := b.get("/my-tickets?q=100%25_"); count(r.Body) != 1 {
			t.Errorf("search with LIKE wildcards: %d rows", count(r.Body))
		}
		if r := b.get("/my-tickets?priority=urgent"); count(r.Body) != -1 || !strings.Contains(r.Body, "No tickets yet") {
			t.Errorf("urgent: %d rows", count(r.Body))
		}
		if r := b.get("/my-tickets?status=bogus&priority=%27;DROP&page=-4&sort=x"); r.Code != 200 || count(r.Body) != 25 {
			t.Errorf("garbage parameters: %d, %d rows", r.Code, count(r.Body))
		}
		if r := b.get("/my-tickets?sort=updated"); !strings.Contains(r.Body, "Question 03") {
			t.Error("sort by updated")
		}
	})
}

func TestUnseenAgentAnswersAreMarkedUntilViewed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		id, _, _ := f.mailTicket(t, "alice@example.org", "Printer", "It burns.")
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		if r := b.get("/my-tickets"); strings.Contains(r.Body, "new answer") {
			t.Fatal("marked before any answer")
		}
		f.agentAnswer(t, id, "Pull the plug.")
		if r := b.get("/my-tickets"); !strings.Contains(r.Body, "new answer") {
			t.Fatal("agent answer not marked")
		}
		r := b.get(fmt.Sprintf("/my-tickets/%d", id))
		if !strings.Contains(r.Body, "Pull the plug.") || strings.Contains(r.Body, "INTERNAL NOTE") ||
			!regexp.MustCompile(`<details class="msg auto"><summary[^>]*>[^<]*automatic reply</summary>I am out of the office.</details>`).MatchString(r.Body) {
			t.Errorf("ticket page shows:\n%s", r.Body)
		}
		if r := b.get("/my-tickets"); strings.Contains(r.Body, "new answer") {
			t.Error("still marked after viewing")
		}
	})
}

func TestNewTicketWithATemplateFieldsCcAndAttachments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		tpl := []portal.Template{{Name: "Bug Report", About: "Tell us how to reproduce it.", Body: "Steps to reproduce:\n",
			Fields: []portal.TemplateField{
				{Name: "version", Label: "Version", Type: "text", Required: true},
				{Name: "os", Label: "System", Type: "select", Options: []string{"Linux", "macOS"}},
				{Name: "seen", Label: "Seen on", Type: "date"},
				{Name: "count", Label: "How often", Type: "number"},
				{Name: "urgent", Label: "Blocks work", Type: "checkbox"},
			}}}
		f := setupAccounts(t, st, accOptions{templates: tpl})
		if _, err := store.UpsertAgent(context.Background(), st.DB, "ana@example.com", "Ana", "Support"); err != nil {
			t.Fatal(err)
		}
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		r := b.get("/my-tickets/new?template=Bug+Report")
		for _, want := range []string{"Tell us how to reproduce it.", "Steps to reproduce:", `name="field_version"`, `<option>Linux</option>`,
			`name="subject"`, `name="description"`, `name="cc"`, `name="priority"`, `name="attachments"`, "Up to 20 files, 1.0 MB in all."} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("form lacks %q", want)
			}
		}
		png := []byte("\x89PNG\r\n\x1a\nfake")
		r = b.postMultipart("/my-tickets/new", [][2]string{{"template", "Bug Report"}, {"subject", "Crash on save"},
			{"description", "Steps to reproduce: save."}, {"field_version", "2.1"}, {"field_os", "Linux"}, {"field_seen", "2026-03-01"},
			{"field_count", "3"}, {"field_urgent", "yes"}, {"cc", "bob@example.org, carol@example.org"}, {"priority", "high"}},
			[]upFile{{"../../etc/pass\twd", "text/plain", []byte("root:x:0:0")}, {"shot.png", "image/png", png}})
		m := ticketURL.FindStringSubmatch(r.URL)
		if r.Code != 200 || m == nil || !strings.Contains(r.Body, "is open. We sent a confirmation") {
			t.Fatalf("create: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		tk := f.ticketRow(t, id)
		if tk.Priority != ticket.PriorityHigh || tk.Status != ticket.StatusOpen || tk.ResponseBy == nil {
			t.Errorf("ticket: %+v", tk)
		}
		for _, want := range []string{"Version</dt><dd>2.1", "System</dt><dd>Linux", "Blocks work</dt><dd>yes", "Seen on</dt><dd>2026-03-01",
			"Crash on save", "passwd</a>", "shot.png</a>"} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("ticket page lacks %q\n%s", want, r.Body)
			}
		}
		// Like a mail: the acknowledgement went out, the Cc are participants who see it.
		if n := f.count(t, `SELECT COUNT(*) FROM outbox WHERE ticket_id = ? AND kind = ? AND rcpt_to = ?`, id, outbound.KindAck, "alice@example.org"); n != 1 {
			t.Errorf("%d acknowledgements", n)
		}
		// The agents' mail shows the template's fields.
		if ms := f.mails(t, outbound.KindAgentNotification, "ana@example.com"); len(ms) != 1 || !strings.Contains(ms[0].Text, "Version: 2.1") ||
			!strings.Contains(ms[0].Text, "System: Linux") {
			t.Errorf("agent mail: %+v", ms)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM participants p JOIN contacts c ON c.id = p.contact_id WHERE p.ticket_id = ? AND c.email IN ('bob@example.org', 'carol@example.org')`, id); n != 2 {
			t.Errorf("%d cc participants", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM messages WHERE ticket_id = ? AND generated = TRUE AND message_id <> ''`, id); n != 1 {
			t.Errorf("the portal message has no Message-ID of ours")
		}
		// Downloads: the file name is safe, non-images download, images show inline.
		links := regexp.MustCompile(`href="(/my-tickets/\d+/attachments/\d+)">([^<]+)</a>`).FindAllStringSubmatch(r.Body, -1)
		if len(links) != 2 {
			t.Fatalf("attachment links: %v", links)
		}
		for _, l := range links {
			resp := b.get(l[1])
			disp := resp.Header.Get("Content-Disposition")
			switch l[2] {
			case "passwd":
				if !strings.HasPrefix(disp, "attachment") || resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Body != "root:x:0:0" {
					t.Errorf("text file: %q %q %q", disp, resp.Header.Get("Content-Type"), resp.Body)
				}
			case "shot.png":
				if !strings.HasPrefix(disp, "inline") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("image: %q", disp)
				}
			default:
				t.Errorf("file name %q", l[2])
			}
		}
	})
}

func TestNewTicketRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		tpl := []portal.Template{{Name: "Bug Report", Fields: []portal.TemplateField{
			{Name: "version", Label: "Version", Type: "text", Required: true},
			{Name: "os", Label: "System", Type: "select", Options: []string{"Linux", "macOS"}},
			{Name: "count", Label: "How often", Type: "number"},
			{Name: "seen", Label: "Seen on", Type: "date"},
		}}}
		f := setupAccounts(t, st, accOptions{templates: tpl})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		ok := [][2]string{{"subject", "A subject"}, {"description", "Words."}}
		with := func(kv ...[2]string) [][2]string { return append(append([][2]string{}, ok...), kv...) }
		many := make([]upFile, 500)
		for i := range many {
			many[i] = upFile{fmt.Sprintf("f%d.txt", i), "text/plain", []byte("x")}
		}
		for _, tc := range []struct {
			name   string
			fields [][2]string
			files  []upFile
			code   int
			want   string
		}{
			{"empty subject", [][2]string{{"subject", "  "}, {"description", "Words."}}, nil, 400, "Please enter a subject"},
			{"a 1 MB subject", [][2]string{{"subject", strings.Repeat("s", 1<<20)}}, nil, 413, "at most"},
			{"a long subject", [][2]string{{"subject", strings.Repeat("s", 251)}, {"description", "x"}}, nil, 400, "at most 250 characters"},
			{"no description", [][2]string{{"subject", "A subject"}}, nil, 400, "Please write a message"},
			{"an unknown template", with([2]string{"template", "Nope"}), nil, 400, "no template of that name"},
			{"a missing required field", with([2]string{"template", "Bug Report"}), nil, 400, "Please fill in “Version”"},
			{"a select value not offered", with([2]string{"template", "Bug Report"}, [2]string{"field_version", "1"}, [2]string{"field_os", "Windows"}), nil, 400, "one of the options for “System”"},
			{"not a number", with([2]string{"template", "Bug Report"}, [2]string{"field_version", "1"}, [2]string{"field_count", "many"}), nil, 400, "must be a number"},
			{"not a date", with([2]string{"template", "Bug Report"}, [2]string{"field_version", "1"}, [2]string{"field_seen", "yesterday"}), nil, 400, "must be a date"},
			{"a bad cc", with([2]string{"cc", "bob@example.org, not an address"}), nil, 400, "“not an address” is not an email address"},
			{"a priority not offered", with([2]string{"priority", "urgent"}), nil, 400, "cannot be chosen"},
			{"an upload over the limit", ok, []upFile{{"big.bin", "application/octet-stream", make([]byte, 1<<20+1)}}, 413, "larger than 1.0 MB"},
			{"500 files", ok, many, 400, "At most 20 files"},
			{"a raw control character in a file name", ok, []upFile{{"a\x01b.txt", "text/plain", []byte("x")}}, 400, "could not read what the form sent"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := b.postMultipart("/my-tickets/new", tc.fields, tc.files)
				if r.Code != tc.code || !strings.Contains(r.Body, tc.want) {
					t.Errorf("%d, want %d with %q\n%s", r.Code, tc.code, tc.want, r.Body)
				}
			})
		}
		if n := f.count(t, `SELECT COUNT(*) FROM tickets`); n != 0 {
			t.Errorf("%d tickets made by refused forms", n)
		}
		if r := b.get("/my-tickets/new?template=Nope"); r.Code != 400 || !strings.Contains(r.Body, "no template of that name") {
			t.Errorf("unknown template link: %d", r.Code)
		}
	})
}

func TestReplyCloseAndRate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		id, _, _ := f.mailTicket(t, "alice@example.org", "Printer", "It burns.")
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		page := fmt.Sprintf("/my-tickets/%d", id)
		if r := b.postMultipart(page+"/reply", [][2]string{{"body", "Still burning."}}, []upFile{{"photo.jpg", "image/jpeg", []byte("\xff\xd8\xff")}}); r.URL != page+"?done=reply" ||
			!strings.Contains(r.Body, "Still burning.") || !strings.Contains(r.Body, "photo.jpg") {
			t.Fatalf("reply: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if r := b.post(page+"/reply", "body", "   "); r.Code != 400 || !strings.Contains(r.Body, "Please write a message") {
			t.Errorf("empty reply: %d", r.Code)
		}
		// A reply to a Resolved ticket reopens it.
		if err := f.tickets.ChangeStatus(context.Background(), id, ticket.StatusResolved, "agent"); err != nil {
			t.Fatal(err)
		}
		b.post(page+"/reply", "body", "It is back.")
		if s := f.ticketRow(t, id).Status; s != ticket.StatusOpen {
			t.Errorf("after a reply to a resolved ticket: %s", s)
		}
		// Rating before closing is not offered; close, then rate once.
		if r := b.get(page); strings.Contains(r.Body, `action="`+page+`/rate"`) {
			t.Error("feedback form on an open ticket")
		}
		if r := b.post(page + "/close"); r.URL != page+"?done=closed" || !strings.Contains(r.Body, "The ticket is closed.") ||
			f.ticketRow(t, id).Status != ticket.StatusClosed || !strings.Contains(r.Body, `action="`+page+`/rate"`) {
			t.Fatalf("close: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if r := b.post(page + "/close"); r.Code != 409 || !strings.Contains(r.Body, "already closed") {
			t.Errorf("closing twice: %d", r.Code)
		}
		for _, bad := range [][]string{{"rating", "0"}, {"rating", "6"}, {"rating", "x"}, {"rating", "5", "option", "Unfriendly"}} {
			if r := b.post(page+"/rate", bad...); r.Code != 400 {
				t.Errorf("rating %v: %d", bad, r.Code)
			}
		}
		if r := b.post(page+"/rate", "rating", "5", "option", "Problem solved", "comment", "Thanks!"); r.URL != page+"?done=rate" ||
			!strings.Contains(r.Body, "Thank you for your feedback") {
			t.Fatalf("rate: %d at %s", r.Code, r.URL)
		}
		if r := b.post(page+"/rate", "rating", "1"); r.Code != 409 || !strings.Contains(r.Body, "already rated") {
			t.Errorf("rating twice: %d", r.Code)
		}
		fb, _ := store.ListFeedback(context.Background(), st.DB, id)
		if len(fb) != 1 || fb[0].Rating != 5 || fb[0].Choice != "Problem solved" || fb[0].Comment != "Thanks!" {
			t.Errorf("feedback: %+v", fb)
		}
		// Long after closing, a reply opens a new ticket linked to the old one.
		if _, err := st.DB.Exec(st.DB.Rebind(`UPDATE tickets SET closed_at = ? WHERE id = ?`), store.Now().Add(-40*24*time.Hour), id); err != nil {
			t.Fatal(err)
		}
		r := b.post(page+"/reply", "body", "A new problem with it.")
		m := ticketURL.FindStringSubmatch(r.URL)
		if m == nil || m[1] == strconv.FormatInt(id, 10) || !strings.Contains(r.Body, "opened a new ticket") {
			t.Fatalf("late reply: at %s\n%s", r.URL, r.Body)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		if linked := f.ticketRow(t, n).LinkedTicketID; linked == nil || *linked != id || f.ticketRow(t, id).Status != ticket.StatusClosed {
			t.Errorf("new ticket linked to %v", linked)
		}
	})
}

// TestCustomerBSeesNothingOfCustomerA runs every customer route as customer B with
// customer A's ticket, message and attachment ids: each is a 404 and changes nothing.
func TestCustomerBSeesNothingOfCustomerA(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		a, att, msg := f.mailTicket(t, "alice@example.org", "Alice's secret", "Alice's words.")
		f.mailTicket(t, "bob@example.org", "Bob's own", "Bob's words.")
		bob := f.browser(t)
		f.signUp(t, bob, "bob@example.org", goodPassword)
		before := [3]int{f.count(t, `SELECT COUNT(*) FROM messages`), f.count(t, `SELECT COUNT(*) FROM feedback`), f.count(t, `SELECT COUNT(*) FROM outbox`)}
		status := f.ticketRow(t, a).Status
		id := strconv.FormatInt(a, 10)
		for _, rt := range []struct{ method, path string }{
			{"GET", "/my-tickets/" + id},
			{"POST", "/my-tickets/" + id + "/reply"},
			{"POST", "/my-tickets/" + id + "/close"},
			{"POST", "/my-tickets/" + id + "/rate"},
			{"GET", fmt.Sprintf("/my-tickets/%d/attachments/%d", a, att)},
			{"GET", fmt.Sprintf("/my-tickets/%d/messages/%d/raw", a, msg)},
			{"GET", "/my-tickets/999999"},
			{"GET", "/my-tickets/abc"},
		} {
			var r response
			if rt.method == "GET" {
				r = bob.get(rt.path)
			} else {
				r = bob.post(rt.path, "body", "Bob was here", "rating", "1")
			}
			if r.Code != 404 || strings.Contains(r.Body, "Alice") || !strings.Contains(r.Body, "no such ticket") {
				t.Errorf("%s %s: %d\n%s", rt.method, rt.path, r.Code, r.Body)
			}
		}
		// Bob's own ticket with Alice's attachment or message id: 404 as well.
		own := f.count(t, `SELECT t.id FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE c.email = 'bob@example.org'`)
		for _, p := range []string{fmt.Sprintf("/my-tickets/%d/attachments/%d", own, att), fmt.Sprintf("/my-tickets/%d/messages/%d/raw", own, msg)} {
			if r := bob.get(p); r.Code != 404 {
				t.Errorf("%s: %d", p, r.Code)
			}
		}
		for _, where := range []string{"/my-tickets", "/my-tickets?q=secret", "/", "/my-tickets?status=open"} {
			if r := bob.get(where); strings.Contains(r.Body, "Alice") {
				t.Errorf("%s shows Alice's ticket", where)
			}
		}
		after := [3]int{f.count(t, `SELECT COUNT(*) FROM messages`), f.count(t, `SELECT COUNT(*) FROM feedback`), f.count(t, `SELECT COUNT(*) FROM outbox`)}
		if after != before || f.ticketRow(t, a).Status != status {
			t.Errorf("something changed: %v -> %v, status %s", before, after, f.ticketRow(t, a).Status)
		}
	})
}

func mailAddr(a string) mail.Address { return mail.Address{Address: a} }

func TestSignedLinksOfferToSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		id, _, _ := f.mailTicket(t, "alice@example.org", "Printer", "It burns.")
		link := f.links.URL(ticket.Link{Action: ticket.ActionView, TicketID: id, Expires: time.Now().Add(time.Hour), Nonce: ticket.NewNonce()})
		if r := f.browser(t).get(link); r.Code != 200 || !strings.Contains(r.Body, "It burns.") || !strings.Contains(r.Body, `<a href="/login">Sign in to see all your tickets</a>`) {
			t.Errorf("view link: %d\n%s", r.Code, r.Body)
		}
	})
}
