package portal_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"
	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// clock is the accounts' injected time: tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// accFixture is a portal with accounts on, over a real database and a real listener.
type accFixture struct {
	*fixture
	acc   *account.Service
	clock *clock
	reg   *prometheus.Registry
	wakes chan struct{}
}

type accOptions struct {
	limits    *account.Limits
	maxAuto   int
	brand     string
	templates []portal.Template
	maxUpload int64 // default 1 MiB
	rate      []portal.RateOption
}

var berlin, _ = time.LoadLocation("Europe/Berlin")

func setupAccounts(t testing.TB, st *store.Store, o accOptions) *accFixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	secret := []byte("0123456789abcdef0123456789abcdef")
	brand := o.brand
	if brand == "" {
		brand = "Acme Help"
	}
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: brand + " <support@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	f := &accFixture{fixture: &fixture{st: st}, clock: &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
		reg: prometheus.NewRegistry(), wakes: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.links = ticket.NewLinks(secret, f.srv.URL)
	f.tickets = ticket.New(st, ticket.Config{Composer: composer, Signer: threading.NewSigner(secret), Links: f.links,
		ReopenWindow: 30 * 24 * time.Hour}, log)
	st.OnOutbox(func() {
		select {
		case f.wakes <- struct{}{}:
		default:
		}
	})
	f.acc = account.New(st, account.Config{Composer: composer, BaseURL: f.srv.URL, Brand: composer.Brand().Name,
		MaxAutoPerHour: o.maxAuto, Limits: o.limits, Now: f.clock.Now, Metrics: account.NewMetrics(f.reg)}, log)
	web, err := portal.New(st, f.tickets, f.links, composer.Brand(), log, portal.WithAccounts(f.acc, f.srv.URL),
		portal.WithTickets(portal.TicketOptions{Mailbox: "support@example.com", Team: "Support", CustomerPriority: true,
			MaxUpload: cmp.Or(o.maxUpload, 1<<20), Templates: o.templates, Location: berlin, RateOptions: o.rate}))
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", web.Handler())
	return f
}

// browser is one customer's browser: a cookie jar, following redirects or not.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	lang string
	xff  string // X-Forwarded-For, as the proxy in front would set it
}

func (f *accFixture) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: f.srv.URL, c: &http.Client{Jar: jar}}
}

// response is what a request got: status, final URL after redirects, body, headers.
type response struct {
	Code   int
	URL    string
	Body   string
	Header http.Header
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	if b.xff != "" {
		req.Header.Set("X-Forwarded-For", b.xff)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{Code: resp.StatusCode, URL: resp.Request.URL.RequestURI(), Body: string(body), Header: resp.Header}
}

func (b *browser) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.base + path
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.url(path), nil)
	return b.do(req)
}

func (b *browser) post(path string, kv ...string) response {
	b.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest("POST", b.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// noFollow returns a browser sharing the cookies that stops at redirects.
func (b *browser) noFollow() *browser {
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: b.t, base: b.base, c: &c, lang: b.lang, xff: b.xff}
}

var accountLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/(?:signup/verify|login/link|reset)/[A-Za-z0-9_-]{43}`)

// sentMail is one account mail from the outbox.
type sentMail struct {
	Row  store.Outbox
	Text string
	Link string
	Env  *enmime.Envelope
}

// mails returns the outbox rows of a kind to an address, oldest first.
func (f *accFixture) mails(t *testing.T, kind, to string) []sentMail {
	t.Helper()
	rows, err := f.st.ListOutbox(context.Background(), "", 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []sentMail
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		if r.Kind != kind || r.RcptTo != to {
			continue
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(r.Raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sentMail{Row: r, Text: env.Text, Link: accountLinkRE.FindString(env.Text), Env: env})
	}
	return out
}

// lastLink returns the link of the newest mail of a kind to an address.
func (f *accFixture) lastLink(t *testing.T, kind, to string) string {
	t.Helper()
	ms := f.mails(t, kind, to)
	if len(ms) == 0 || ms[len(ms)-1].Link == "" {
		t.Fatalf("no %s mail with a link to %s (%d mails)", kind, to, len(ms))
	}
	return ms[len(ms)-1].Link
}

// signUp signs up and confirms in b, and returns b signed in.
func (f *accFixture) signUp(t *testing.T, b *browser, email, password string) {
	t.Helper()
	r := b.post("/signup", "email", email, "password", password)
	if r.Code != 200 || !strings.Contains(r.Body, "Check your email") {
		t.Fatalf("sign-up %s: %d\n%s", email, r.Code, r.Body)
	}
	r = b.post(f.lastLink(t, outbound.KindAccountVerify, email))
	if r.Code != 200 || r.URL != "/account?done=welcome" {
		t.Fatalf("confirm %s: %d at %s\n%s", email, r.Code, r.URL, r.Body)
	}
}

var secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`)

// enable2FA turns on TOTP for the signed-in b and returns the secret and recovery codes.
func (f *accFixture) enable2FA(t *testing.T, b *browser) (string, []string) {
	t.Helper()
	r := b.get("/account/2fa")
	m := secretRE.FindStringSubmatch(r.Body)
	if r.Code != 200 || m == nil || !strings.Contains(r.Body, "otpauth://totp/") || !strings.Contains(r.Body, `src="data:image/png;base64,`) {
		t.Fatalf("2FA page: %d\n%s", r.Code, r.Body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	code, _ := totp.GenerateCode(secret, f.clock.Now())
	r = b.post("/account/2fa", "action", "enable", "code", code)
	codes := regexp.MustCompile(`<li>([a-z2-7]{5}-[a-z2-7]{5})</li>`).FindAllStringSubmatch(r.Body, -1)
	if r.Code != 200 || len(codes) != account.RecoveryCodes {
		t.Fatalf("enable 2FA: %d, %d codes\n%s", r.Code, len(codes), r.Body)
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	return secret, out
}

func (f *accFixture) code(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *accFixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.st.DB.Get(&n, f.st.DB.Rebind(query), args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *accFixture) failures(t *testing.T, reason string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "mxdesk_portal_signin_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// postMultipart sends a multipart form: fields (name, value pairs) and files.
func (b *browser) postMultipart(path string, fields [][2]string, files []upFile) response {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="attachments"; filename="%s"`, f.name))
		h.Set("Content-Type", f.ctype)
		w, _ := mw.CreatePart(h)
		w.Write(f.data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.url(path), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

type upFile struct {
	name, ctype string
	data        []byte
}
