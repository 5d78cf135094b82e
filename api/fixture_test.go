package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/api"
	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

var testMailboxes = []config.Mailbox{
	{Address: "support@example.com", Team: "Support"},
	{Address: "billing@example.com", Team: "Billing"},
}

// fixture is the API over a real database, with the real ticket service and ingest
// filling it from real mail. Its client checks every request and response against
// openapi.yaml.
type fixture struct {
	t       testing.TB
	ctx     context.Context
	st      *store.Store
	tickets *ticket.Service
	ing     *ingest.Ingester
	srv     *httptest.Server
	api     *api.Server
	tokens  map[string]string // ana (Support), bob (Billing), admin, nobody (agent without a team)
	clock   *clock
	cfg     api.Config
}

// clock is the real time moved forward by what tests add (the rate limiter's refill).
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return store.Now().Add(c.offset)
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func setup(t testing.TB, st *store.Store, tune ...func(*api.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	signer := threading.NewSigner(testSecret)
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Example Support <support@example.com>"})
	storetest.MustNotErr(t, "composer", err)
	router := ingest.NewRouter(testMailboxes, signer)
	tickets := ticket.New(st, ticket.Config{Composer: composer, Signer: signer, Own: router.Own,
		Links: ticket.NewLinks(testSecret, "http://portal.test")}, log)
	ing := ingest.New(st, ingest.Config{Resolve: router.Resolve, Own: router.Own, Tickets: tickets,
		TrustedDomains: []string{"example.com", "example.org", "example.net"}}, log)
	f := &fixture{t: t, ctx: ctx, st: st, tickets: tickets, ing: ing, tokens: map[string]string{}}
	for _, a := range []struct{ email, name, team string }{
		{"ana@example.com", "Ana", "Support"}, {"bob@example.com", "Bob", "Billing"}, {"root@example.com", "Root", "Support"},
	} {
		_, err := store.UpsertAgent(ctx, st.DB, a.email, a.name, a.team)
		storetest.MustNotErr(t, "agent", err)
	}
	// An agent whose team is gone from the config sees nothing.
	_, err = st.DB.Exec(st.DB.Rebind(`INSERT INTO users (email, name, role, created_at) VALUES (?, ?, 'agent', ?)`), "nobody@example.com", "Nobody", store.Now())
	storetest.MustNotErr(t, "agent without team", err)
	f.tokens["ana"] = f.token("ana@example.com", false)
	f.tokens["bob"] = f.token("bob@example.com", false)
	f.tokens["admin"] = f.token("root@example.com", true)
	f.tokens["nobody"] = f.token("nobody@example.com", false)
	f.clock = &clock{}
	f.cfg = api.Config{Store: st, Tickets: tickets, Log: log, RatePerSecond: 1000, Burst: 1000, Now: f.clock.now,
		Mailboxes: []api.Mailbox{{Address: "support@example.com", Team: "Support"}, {Address: "billing@example.com", Team: "Billing", Priority: "high"}}}
	for _, fn := range tune {
		fn(&f.cfg)
	}
	f.api, err = api.New(f.cfg)
	storetest.MustNotErr(t, "api", err)
	mux := http.NewServeMux()
	mux.Handle(api.Prefix+"/", f.api)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// token makes a token for an agent as `mxdesk agent token` does.
func (f *fixture) token(email string, admin bool) string {
	f.t.Helper()
	var uid int64
	storetest.MustNotErr(f.t, "user", f.st.DB.Get(&uid, f.st.DB.Rebind("SELECT id FROM users WHERE email = ?"), email))
	tok, hash, err := api.NewToken()
	storetest.MustNotErr(f.t, "token", err)
	storetest.MustNotErr(f.t, "insert token", store.InsertAPIToken(f.ctx, f.st.DB, &store.APIToken{UserID: uid, Name: "test", Hash: hash, Admin: admin}))
	return tok
}

// mail ingests a message as smtpd and ingest would and returns the ticket it landed on.
func (f *fixture) mail(from, to, raw string) int64 {
	f.t.Helper()
	dom := from[strings.LastIndexByte(from, '@')+1:]
	in := &store.Inbound{RemoteAddr: "192.0.2.1:25", Helo: "mx.example.org", MailFrom: from, Rcpt: []string{to}, Raw: []byte(raw),
		AuthResults: (&mailauth.Results{FromDomain: dom, DKIM: "pass", SPF: "pass", DMARC: "pass", AlignedDomain: dom, AlignedBy: "dkim"}).JSON()}
	storetest.MustNotErr(f.t, "spool", f.st.Tx(f.ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(f.ctx, tx, in) }))
	storetest.MustNotErr(f.t, "ingest", f.ing.Process(f.ctx, in.ID))
	var id int64
	storetest.MustNotErr(f.t, "ticket of message", f.st.DB.Get(&id,
		f.st.DB.Rebind("SELECT ticket_id FROM messages WHERE inbound_id = ? ORDER BY id DESC LIMIT 1"), in.ID))
	return id
}

// customerMail is a plain customer message with a quoted history.
func customerMail(from, to, subject, msgid, body string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + msgid + ">\r\n" +
		"Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"
}

// withAttachment is a multipart customer message with HTML and a file.
func withAttachment(from, to, subject, msgid string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + msgid + ">\r\n" +
		"Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
		"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe photo is attached.\r\n\r\nOn Sun, someone wrote:\r\n> older text\r\n" +
		"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The photo is <b>attached</b>.</p><script>alert(1)</script>\r\n--b2--\r\n" +
		"--b1\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"photo.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\r\n--b1--\r\n"
}

// response is what a request got, already checked against the description.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) problem(t testing.TB) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q, want application/problem+json: %s", r.status, ct, r.body)
	}
	var p api.Problem
	r.decode(t, &p)
	if p.Status != r.status || !strings.HasPrefix(p.Type, "urn:mxdesk:problem:") || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, r.status)
	}
	return p
}

// do sends a request as who (a token name, or a raw Authorization value when it has
// a space; "" sends none) and checks request and response against openapi.yaml.
func (f *fixture) do(method, path, who string, body io.Reader, header ...string) response {
	f.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		raw, err = io.ReadAll(body)
		storetest.MustNotErr(f.t, "body", err)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(raw))
	storetest.MustNotErr(f.t, "request", err)
	if body == nil {
		req.Body = http.NoBody
	}
	switch {
	case who == "":
	case strings.Contains(who, " "):
		req.Header.Set("Authorization", who)
	default:
		tok, ok := f.tokens[who]
		if !ok {
			f.t.Fatalf("no token %q", who)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	storetest.MustNotErr(f.t, method+" "+path, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	storetest.MustNotErr(f.t, "read response", err)
	out := response{status: resp.StatusCode, header: resp.Header, body: got}
	conform.check(f.t, req, raw, out)
	return out
}

func (f *fixture) get(path, who string) response { return f.do("GET", path, who, nil) }

func (f *fixture) json(method, path, who string, v any, header ...string) response {
	f.t.Helper()
	b, err := json.Marshal(v)
	storetest.MustNotErr(f.t, "marshal", err)
	return f.do(method, path, who, bytes.NewReader(b), append([]string{"Content-Type", "application/json"}, header...)...)
}

// conformance holds the description and what the tests exercised of it.
type conformance struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
	mu     sync.Mutex
	ok     map[string]bool // "METHOD /path" answered 2xx to a valid request
}

var conform = &conformance{ok: map[string]bool{}}

func (c *conformance) load() error {
	c.once.Do(func() {
		c.doc, c.err = api.Spec()
		if c.err != nil {
			return
		}
		c.doc.Servers = openapi3.Servers{{URL: "/api/v1"}}
		c.router, c.err = gorillamux.NewRouter(c.doc)
	})
	return c.err
}

// check validates one exchange. A request the description allows gets an answer it
// describes; a request it does not allow must get a problem, never a 2xx.
func (c *conformance) check(t testing.TB, req *http.Request, body []byte, resp response) {
	t.Helper()
	if err := c.load(); err != nil {
		t.Fatalf("openapi: %v", err)
	}
	ctx := context.Background()
	// Match on the path alone: the router wants the server's host otherwise.
	u := *req.URL
	u.Scheme, u.Host = "", ""
	r2 := req.Clone(ctx)
	r2.URL = &u
	r2.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := c.router.FindRoute(r2)
	if err != nil {
		if resp.status < 400 {
			t.Errorf("%s %s: not in openapi.yaml (%v) but answered %d", req.Method, req.URL.Path, err, resp.status)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && resp.status < 400 {
		t.Errorf("%s %s: the description refuses the request (%v) but the server answered %d: %s", req.Method, req.URL, reqErr, resp.status, resp.body)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.status, Header: resp.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(resp.body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.yaml: %v\n%s", req.Method, req.URL, resp.status, err, resp.body)
	}
	if reqErr == nil && resp.status < 300 {
		c.mu.Lock()
		c.ok[route.Method+" "+route.Path] = true
		c.mu.Unlock()
	}
}

// TestMain checks, after a full run, that every operation of the description was
// exercised with a valid request and a success answer.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && !partialRun() {
		if err := conform.load(); err != nil {
			fmt.Fprintln(os.Stderr, "openapi:", err)
			os.Exit(1)
		}
		var missing []string
		for path, item := range conform.doc.Paths.Map() {
			for method := range item.Operations() {
				if !conform.ok[method+" "+path] {
					missing = append(missing, method+" "+path)
				}
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: operations of openapi.yaml no test answered with success: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// partialRun reports whether -run, -skip or -bench narrowed the tests.
func partialRun() bool {
	for _, a := range os.Args[1:] {
		for _, p := range []string{"-test.run", "-test.skip", "-test.bench", "-test.list"} {
			if strings.HasPrefix(a, p) {
				return true
			}
		}
	}
	return false
}

func q(vals ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(vals); i += 2 {
		v.Set(vals[i], vals[i+1])
	}
	return "?" + v.Encode()
}
