package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/kb"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// kbServer is the portal as serve runs it (customer accounts and ticket pages on) over a
// store holding docs/kb, the knowledge base about mxdesk itself, with opts for the
// knowledge base.
func kbServer(t *testing.T, st *store.Store, opts portal.KBOptions) *accFixture {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	res, err := kb.Import(context.Background(), st, filepath.Join(filepath.Dir(file), "..", "docs", "kb"), kb.Options{DefaultLang: "en"})
	if err != nil || len(res.Skipped) > 0 {
		t.Fatalf("import docs/kb: %v %v", err, res.Skipped)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	secret := []byte("0123456789abcdef0123456789abcdef")
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Acme Help <support@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	f := &accFixture{fixture: &fixture{st: st}, clock: &clock{t: time.Now()}, reg: prometheus.NewRegistry()}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.links = ticket.NewLinks(secret, f.srv.URL)
	f.tickets = ticket.New(st, ticket.Config{Composer: composer, Signer: threading.NewSigner(secret), Links: f.links}, log)
	f.acc = account.New(st, account.Config{Composer: composer, BaseURL: f.srv.URL, Brand: composer.Brand().Name,
		Now: f.clock.Now, Metrics: account.NewMetrics(f.reg)}, log)
	web, err := portal.New(st, f.tickets, f.links, composer.Brand(), log, portal.WithAccounts(f.acc, f.srv.URL),
		portal.WithTickets(portal.TicketOptions{Mailbox: "support@example.com", Team: "Support", MaxUpload: 1 << 20, Location: time.UTC}))
	if err != nil {
		t.Fatal(err)
	}
	web.ConfigureKB(opts)
	mux.Handle("/", web.Handler())
	return f
}

func kbGet(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestKnowledgeBasePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv := kbServer(t, st, portal.KBOptions{Public: true}).srv
		tests := []struct {
			path string
			code int
			want []string
		}{
			{"/", 200, []string{`action="/search"`}},
			{"/kb", 200, []string{`data-kb-suggest`, "/static/kb-suggest.js", "/static/kb.css"}},
			{"/static/kb-suggest.js", 200, []string{"data-kb-suggest"}},
			{"/static/kb.css", 200, []string{".kb-search"}},
			{"/kb", 200, []string{"Categories", `href="/kb?category=Email"`, "Recently updated", `action="/search"`}},
			{"/kb?category=Agents", 200, []string{"Add an agent", "Commands in an agent&#39;s reply"}},
			{"/kb?category=Nope", 404, []string{"no such category"}},
			{"/kb/agent-commands", 200, []string{"<h1>Commands in an agent&#39;s reply</h1>", "<table>", "<code>#status resolved</code>",
				"Was this helpful?", `value="yes"`, "Related articles", `href="/kb?category=Agents"`}},
			{"/kb/dkim-signing", 200, []string{`<code class="language-sh">`}},
			{"/kb/no-such-article", 404, []string{"no such article"}},
			{"/kb/..%2f..%2fetc", 404, nil},
			{"/search?q=dkim+key", 200, []string{`href="/kb/dkim-signing"`, "<mark>"}},
			{"/search?q=passwords", 200, []string{`href="/kb/reset-password"`}},
			{"/search?q=", 200, []string{`action="/search"`}},
			{"/search?q=zzzyxq", 200, []string{"Nothing found"}},
			{"/kb/dkim-signing/img/nope.png", 404, nil},
		}
		for _, tt := range tests {
			code, body := kbGet(t, srv.Client(), srv.URL+tt.path)
			if code != tt.code {
				t.Errorf("GET %s: %d, want %d", tt.path, code, tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", tt.path, w)
				}
			}
		}
	})
}

// TestSearchTakesAnyTextCalmly: whatever a visitor types is words to search for, never
// query syntax: each gets a page (or JSON), never a 500.
func TestSearchTakesAnyTextCalmly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv := kbServer(t, st, portal.KBOptions{Public: true}).srv
		queries := map[string]string{
			"empty":       "",
			"star":        "*",
			"quote":       `"`,
			"inner quote": `foo"bar`,
			"near":        "NEAR(",
			"fts syntax":  `title:dkim OR "key* ^ -x AND (y`,
			"tsquery":     "dkim & !key | :* <->",
			"sql":         "'; DROP TABLE kb_articles; --",
			"10 KB":       strings.Repeat("password reset ", 700),
			"500 words":   strings.Repeat("mail ", 499) + "dkim",
			"emoji":       "🔑 password 🙈",
			"rtl":         "كلمة المرور password",
			"bad utf-8":   "pass\xff\xfeword",
			"control":     "dkim\x00\x01key",
		}
		for name, q := range queries {
			for _, format := range []string{"", "json"} {
				u := srv.URL + "/search?q=" + url.QueryEscape(q) + "&format=" + format
				code, body := kbGet(t, srv.Client(), u)
				if code != 200 {
					t.Errorf("%s (%s): %d %.200s", name, format, code, body)
					continue
				}
				if format == "json" {
					var out struct{ Articles []struct{ Slug, URL string } }
					if err := json.Unmarshal([]byte(body), &out); err != nil {
						t.Errorf("%s: not JSON: %v", name, err)
					}
				} else if !strings.Contains(body, `action="/search"`) {
					t.Errorf("%s: no search form in the page", name)
				}
			}
		}
		if n, err := store.ListKB(context.Background(), st.DB, store.KBFilter{}); err != nil || len(n) < 50 {
			t.Fatalf("articles after the queries: %d, %v", len(n), err)
		}
		// The type-ahead finds by prefix.
		code, body := kbGet(t, srv.Client(), srv.URL+"/search?format=json&q=passw")
		if code != 200 || !strings.Contains(body, `"slug":"reset-password"`) {
			t.Errorf("type-ahead for passw: %d %s", code, body)
		}
	})
}

func TestVotesCountOncePerVisitor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		srv := kbServer(t, st, portal.KBOptions{Public: true}).srv
		visitorClient := func() *http.Client {
			jar, _ := cookiejar.New(nil)
			return &http.Client{Jar: jar}
		}
		vote := func(c *http.Client, slug, v string) (int, string) {
			t.Helper()
			resp, err := c.PostForm(srv.URL+"/kb/"+slug+"/vote", url.Values{"vote": {v}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		counts := func() (int64, int64, int64) {
			a, err := store.KBArticleBySlug(ctx, st.DB, "dkim-signing")
			if err != nil {
				t.Fatal(err)
			}
			return a.Helpful, a.NotHelpful, a.Views
		}
		// Without the cookie the article page sets: not counted, told why.
		if code, body := vote(http.DefaultClient, "dkim-signing", "yes"); code != 400 || !strings.Contains(body, "allow cookies") {
			t.Errorf("vote without cookie: %d", code)
		}
		alice := visitorClient()
		kbGet(t, alice, srv.URL+"/kb/dkim-signing")
		code, body := vote(alice, "dkim-signing", "yes")
		if code != 200 || !strings.Contains(body, "You found this helpful") {
			t.Errorf("alice's vote: %d %.300s", code, body)
		}
		vote(alice, "dkim-signing", "yes")
		if y, n, _ := counts(); y != 1 || n != 0 {
			t.Errorf("after alice voted yes twice: %d yes %d no", y, n)
		}
		vote(alice, "dkim-signing", "no")
		if y, n, _ := counts(); y != 0 || n != 1 {
			t.Errorf("after alice changed her mind: %d yes %d no", y, n)
		}
		bob := visitorClient()
		kbGet(t, bob, srv.URL+"/kb/dkim-signing")
		vote(bob, "dkim-signing", "yes")
		if y, n, views := counts(); y != 1 || n != 1 || views != 2 {
			t.Errorf("after bob: %d yes %d no %d views; want 1, 1, 2", y, n, views)
		}
		if code, _ := vote(bob, "dkim-signing", "maybe"); code != 400 {
			t.Errorf("vote=maybe: %d", code)
		}
		if code, _ := vote(bob, "no-such-article", "yes"); code != 404 {
			t.Errorf("vote on a missing article: %d", code)
		}
		a, _ := store.KBArticleBySlug(ctx, st.DB, "dkim-signing")
		if err := store.SetKBStatus(ctx, st.DB, store.KBArchived, a.ID); err != nil {
			t.Fatal(err)
		}
		if code, body := vote(bob, "dkim-signing", "no"); code != 410 || !strings.Contains(body, "archived") {
			t.Errorf("vote on an archived article: %d", code)
		}
		if code, _ := kbGet(t, bob, srv.URL+"/kb/dkim-signing"); code != 410 {
			t.Errorf("archived article: %d", code)
		}
		// Another site cannot make a visitor's browser vote.
		req, _ := http.NewRequest("POST", srv.URL+"/kb/agents-add/vote", strings.NewReader("vote=yes"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := bob.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("cross-site vote: %d", resp.StatusCode)
		}
	})
}

func TestAPrivateKnowledgeBaseIsNotShown(t *testing.T) {
	st := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	srv := kbServer(t, st, portal.KBOptions{Public: false}).srv
	for _, p := range []string{"/kb", "/kb/dkim-signing", "/search?q=dkim", "/search?q=dkim&format=json"} {
		if code, body := kbGet(t, srv.Client(), srv.URL+p); code != 404 || strings.Contains(body, "DKIM") {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if _, body := kbGet(t, srv.Client(), srv.URL+"/"); strings.Contains(body, `action="/search"`) {
		t.Error("the home page offers the search")
	}
}

// TestSignedInSearchAlsoFindsOwnTickets: a signed-in customer's search lists their own
// tickets that hold the words, never another customer's; with [kb] public = false the
// knowledge base is theirs to read while signed in.
func TestSignedInSearchAlsoFindsOwnTickets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := kbServer(t, st, portal.KBOptions{Public: false})
		alice := f.browser(t)
		f.signUp(t, alice, "alice@example.org", "correct horse battery staple")
		mine := f.newTicket(t, "alice@example.org")
		theirs := f.newTicket(t, "bob@example.net")
		ctx := context.Background()
		for id, subject := range map[int64]string{mine: "DKIM failing for our newsletter", theirs: "DKIM failing for Bob"} {
			if _, err := st.DB.ExecContext(ctx, st.DB.Rebind("UPDATE tickets SET subject = ? WHERE id = ?"), subject, id); err != nil {
				t.Fatal(err)
			}
		}
		r := alice.get("/search?q=dkim+failing")
		if r.Code != 200 || !strings.Contains(r.Body, "Your tickets") || !strings.Contains(r.Body, fmt.Sprintf(`href="/my-tickets/%d"`, mine)) {
			t.Errorf("signed-in search: %d\n%s", r.Code, r.Body)
		}
		if strings.Contains(r.Body, fmt.Sprintf(`href="/my-tickets/%d"`, theirs)) || strings.Contains(r.Body, "Bob") {
			t.Errorf("another customer's ticket in the search")
		}
		if !strings.Contains(r.Body, `href="/kb/dkim-signing"`) {
			t.Errorf("no article in the signed-in search of a private knowledge base")
		}
		if r := alice.get("/kb/dkim-signing"); r.Code != 200 {
			t.Errorf("private article signed in: %d", r.Code)
		}
		if code, _ := kbGet(t, http.DefaultClient, f.srv.URL+"/kb/dkim-signing"); code != 404 {
			t.Errorf("private article signed out: %d", code)
		}
	})
}

// TestTheNewTicketFormSuggestsArticles: the subject field carries the type-ahead, and the
// page's policy lets its script run; without JavaScript the form is the same form.
func TestTheNewTicketFormSuggestsArticles(t *testing.T) {
	st := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	f := kbServer(t, st, portal.KBOptions{Public: true})
	b := f.browser(t)
	f.signUp(t, b, "carol@example.org", "correct horse battery staple")
	r := b.get("/my-tickets/new")
	if r.Code != 200 || !strings.Contains(r.Body, `name="subject"`) || !strings.Contains(r.Body, "data-kb-suggest") ||
		!strings.Contains(r.Body, `src="/static/kb-suggest.js"`) {
		t.Fatalf("new-ticket form: %d\n%s", r.Code, r.Body)
	}
	if p := r.Header.Get("Content-Security-Policy"); !strings.Contains(p, "script-src 'self'") {
		t.Errorf("the form's policy blocks the type-ahead: %s", p)
	}
	if p := b.get("/account").Header.Get("Content-Security-Policy"); strings.Contains(p, "script-src") {
		t.Errorf("other pages allow script: %s", p)
	}
}
