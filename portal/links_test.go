package portal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

type fixture struct {
	st      *store.Store
	tickets *ticket.Service
	links   *ticket.Links
	srv     *httptest.Server
}

func setup(t *testing.T, st *store.Store) *fixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	secret := []byte("0123456789abcdef0123456789abcdef")
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Example Support <support@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.links = ticket.NewLinks(secret, f.srv.URL)
	f.tickets = ticket.New(st, ticket.Config{Composer: composer, Signer: threading.NewSigner(secret), Links: f.links}, log)
	web, err := portal.New(st, f.tickets, f.links, composer.Brand(), log)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", web.Handler())
	return f
}

// newTicket stores a ticket with one customer message, as ingest would.
func (f *fixture) newTicket(t *testing.T, contact string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := f.st.Tx(ctx, func(tx *sqlx.Tx) error {
		team, err := store.EnsureTeam(ctx, tx, "Support")
		if err != nil {
			return err
		}
		c, err := store.UpsertContact(ctx, tx, contact, "Alice")
		if err != nil {
			return err
		}
		now := store.Now()
		tk := &store.Ticket{Subject: "Printer on fire", Status: ticket.StatusOpen, Priority: "medium", TeamID: team,
			ContactID: c, Mailbox: "support@example.com", CreatedAt: now, UpdatedAt: now}
		if err := store.InsertTicket(ctx, tx, tk); err != nil {
			return err
		}
		id = tk.ID
		if err := store.AddParticipant(ctx, tx, id, c, "contact"); err != nil {
			return err
		}
		return store.InsertMessage(ctx, tx, &store.Message{TicketID: id, Direction: "in", Kind: "customer",
			FromAddr: contact, MessageID: "m" + contact, Subject: "Printer on fire", Text: "It burns.", CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/l/[A-Za-z0-9_.-]+`)

// lastMail returns the text part and links of the newest outbox row of a kind.
func (f *fixture) lastMail(t *testing.T, kind string) (string, []string) {
	t.Helper()
	rows, err := f.st.ListOutbox(context.Background(), "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Kind == kind {
			env, err := enmime.ReadEnvelope(bytes.NewReader(r.Raw))
			if err != nil {
				t.Fatal(err)
			}
			return env.Text, linkRE.FindAllString(env.Text, -1)
		}
	}
	t.Fatalf("no %s in the outbox", kind)
	return "", nil
}

func get(t *testing.T, u, lang string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	return do(t, req)
}

func post(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func status(t *testing.T, st *store.Store, id int64) string {
	tk, err := store.GetTicket(context.Background(), st.DB, id)
	if err != nil {
		t.Fatal(err)
	}
	return tk.Status
}

func TestCloseLinkAsksThenClosesOnceAndSaysSoAfterwards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		id := f.newTicket(t, "alice@example.org")
		if err := f.tickets.ChangeStatus(context.Background(), id, ticket.StatusResolved, "agent"); err != nil {
			t.Fatal(err)
		}
		text, links := f.lastMail(t, outbound.KindStatusChanged)
		if !strings.Contains(text, "to Resolved") || len(links) != 2 {
			t.Fatalf("status mail:\n%s\nlinks %v", text, links)
		}
		closeURL := links[0]
		if !strings.Contains(text, "close the ticket: "+closeURL) {
			closeURL = links[1]
		}
		// GET only asks: a mail scanner following the link must not close the ticket.
		code, body := get(t, closeURL, "")
		if code != 200 || !strings.Contains(body, "<form method=\"post\">") || status(t, st, id) != ticket.StatusResolved {
			t.Fatalf("GET close link: %d, status %s\n%s", code, status(t, st, id), body)
		}
		code, body = post(t, closeURL, nil)
		if code != 200 || !strings.Contains(body, "is closed") || status(t, st, id) != ticket.StatusClosed {
			t.Fatalf("POST close link: %d, status %s\n%s", code, status(t, st, id), body)
		}
		if text, _ := f.lastMail(t, outbound.KindClosed); !strings.Contains(text, "is now closed") {
			t.Errorf("closed mail:\n%s", text)
		}
		code, body = post(t, closeURL, nil)
		if code != 200 || !strings.Contains(body, "already used") {
			t.Errorf("second use: %d\n%s", code, body)
		}
		code, body = get(t, closeURL, "de-DE,de;q=0.9")
		if code != 200 || !strings.Contains(body, "bereits verwendet") {
			t.Errorf("second use in German: %d\n%s", code, body)
		}
	})
}

func TestRatingLinksRecordOneRatingAndTakeAComment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		id := f.newTicket(t, "alice@example.org")
		err := st.Tx(context.Background(), func(tx *sqlx.Tx) error {
			return f.tickets.RequestFeedback(context.Background(), tx, id)
		})
		if err != nil {
			t.Fatal(err)
		}
		text, links := f.lastMail(t, outbound.KindFeedbackRequest)
		if len(links) != 9 || !strings.Contains(text, "Excellent") {
			t.Fatalf("feedback mail has %d links:\n%s", len(links), text)
		}
		fourStars := links[1] // 5, 4, 3, 2, 1 stars, then the options
		code, body := get(t, fourStars, "")
		if code != 200 || !strings.Contains(body, "4 of 5 stars") || !strings.Contains(body, "<textarea") {
			t.Fatalf("rating: %d\n%s", code, body)
		}
		fb, _ := store.ListFeedback(context.Background(), st.DB, id)
		if len(fb) != 1 || fb[0].Rating != 4 {
			t.Fatalf("feedback = %+v", fb)
		}
		fid := regexp.MustCompile(`name="feedback" value="(\d+)"`).FindStringSubmatch(body)
		if fid == nil {
			t.Fatal("no feedback id in the form")
		}
		code, _ = post(t, fourStars, url.Values{"feedback": {fid[1]}, "comment": {"Quick and friendly."}})
		if fb, _ = store.ListFeedback(context.Background(), st.DB, id); code != 200 || fb[0].Comment != "Quick and friendly." {
			t.Errorf("comment: %d %+v", code, fb)
		}
		// Another link of the same request: the rating stands.
		code, body = get(t, links[8], "")
		if fb, _ = store.ListFeedback(context.Background(), st.DB, id); code != 200 || !strings.Contains(body, "already recorded") || len(fb) != 1 {
			t.Errorf("second rating: %d, %d ratings\n%s", code, len(fb), body)
		}
	})
}

func TestAlteredAndExpiredLinksSaySo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		a := f.newTicket(t, "alice@example.org")
		b := f.newTicket(t, "bob@example.net")
		view := f.links.URL(ticket.Link{Action: ticket.ActionView, TicketID: a, Expires: time.Now().Add(time.Hour), Nonce: "n"})
		code, body := get(t, view, "")
		if code != 200 || !strings.Contains(body, "Printer on fire") || !strings.Contains(body, "It burns.") {
			t.Fatalf("view: %d\n%s", code, body)
		}
		// Re-sign nothing, just swap the ticket id inside the payload: refused.
		forged := f.links.Token(ticket.Link{Action: ticket.ActionView, TicketID: b, Expires: time.Now().Add(time.Hour), Nonce: "n"})
		good := f.links.Token(ticket.Link{Action: ticket.ActionView, TicketID: a, Expires: time.Now().Add(time.Hour), Nonce: "n"})
		spliced := strings.SplitN(forged, ".", 2)[0] + "." + strings.SplitN(good, ".", 2)[1]
		expired := f.links.URL(ticket.Link{Action: ticket.ActionClose, TicketID: a, Expires: time.Now().Add(-time.Minute), Nonce: "x"})
		upgraded := f.links.Token(ticket.Link{Action: ticket.ActionRate, TicketID: a, Arg: "1", Expires: time.Now().Add(time.Hour), Nonce: "r"})
		tests := []struct {
			name, url string
			code      int
			says      string
		}{
			{"payload of another ticket with this ticket's signature", f.srv.URL + "/l/" + spliced, 404, "not valid"},
			{"truncated", view[:len(view)-5], 404, "not valid"},
			{"garbage", f.srv.URL + "/l/abc", 404, "not valid"},
			{"expired", expired, 410, "expired"},
			{"rating changed from 1 to 5", f.srv.URL + "/l/" + tamper(t, upgraded, "|1|", "|5|"), 404, "not valid"},
		}
		for _, tt := range tests {
			code, body := get(t, tt.url, "")
			if code != tt.code || !strings.Contains(body, tt.says) {
				t.Errorf("%s: %d, want %d saying %q\n%s", tt.name, code, tt.code, tt.says, body)
			}
		}
		if status(t, st, a) != ticket.StatusOpen {
			t.Error("ticket changed by a bad link")
		}
	})
}

// tamper edits the payload of a token and keeps its signature.
func tamper(t *testing.T, token, old, new string) string {
	p, mac, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || !strings.Contains(string(raw), old) {
		t.Fatalf("token payload %q lacks %q", raw, old)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), old, new, 1))) + "." + mac
}

func TestHealthAndReadiness(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, _ := get(t, f.srv.URL+p, ""); code != 200 {
				t.Errorf("%s: %d", p, code)
			}
		}
	})
}
