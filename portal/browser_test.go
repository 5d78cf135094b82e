package portal_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jhillyerd/enmime/v2"
	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/ticket"
)

// chromium returns the path of a headless-capable Chromium; without one the test skips,
// except under CI=true, where a missing browser is a failure (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: CI must install it (Debian package chromium)")
	}
	t.Skip("chromium not found: install Debian's chromium to run the browser tests")
	return ""
}

// tab drives one headless Chromium tab for a test; every step fails the test with
// what it was doing.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// newTab starts headless Chromium for the test. The browser starts without a deadline
// (a deadline on the first call would stop the browser); the steps run under one.
func newTab(t *testing.T, path string, width, height int) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(width, height))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return &tab{t: t, ctx: ctx}
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitFor waits until a JavaScript condition holds in the page (a navigation finished).
func (b *tab) waitFor(cond string) {
	b.t.Helper()
	// Poll fails with "target navigated" when the navigation happens under it: ask again.
	var err error
	for b.ctx.Err() == nil {
		if _, err = chromedp.Run(b.ctx, chromedp.Poll[bool](cond)); err == nil {
			return
		}
	}
	b.t.Fatalf("waiting for %s: %v", cond, err)
}

func (b *tab) eval(js string) int64 {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int64](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return n
}

// TestBrowserSignUpTwoFactorAndSignIn drives real Chromium through the account pages:
// sign up, open the verification link from the mail the relay received, enable 2FA,
// sign out, and sign in again with the password and a code.
func TestBrowserSignUpTwoFactorAndSignIn(t *testing.T) {
	path := chromium(t)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		// The worker wakes on every committed outbox row (it replaces the fixture's hook).
		sink := sinktest.Start(t)
		worker := outbound.NewWorker(st, outbound.WorkerConfig{Relay: sink.Addr}, quietLog())
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { worker.Run(ctx); close(done) }()
		t.Cleanup(func() { stop(); <-done })
		b := newTab(t, path, 1024, 800)
		base := f.srv.URL
		const email, password = "browser@example.org", "a long and quiet evening"

		b.do("sign up",
			chromedp.Navigate(base+"/signup"),
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, email),
			chromedp.SendKeys(`#password`, password),
			chromedp.Click(`form[action="/signup"] button`),
			chromedp.WaitNotPresent(`form[action="/signup"]`),
		)
		if h := b.text(`main h1`); h != "Check your email" {
			t.Fatalf("after sign-up: %q", h)
		}
		msgs := sink.Wait(t, 1, 30*time.Second)
		env, err := enmime.ReadEnvelope(bytes.NewReader(msgs[0].Raw))
		if err != nil {
			t.Fatal(err)
		}
		link := accountLinkRE.FindString(env.Text)
		if link == "" || msgs[0].Header.Get("Auto-Submitted") != "auto-generated" {
			t.Fatalf("verification mail at the relay:\n%s", msgs[0].Raw)
		}

		b.do("open the link and confirm",
			chromedp.Navigate(link),
			chromedp.WaitVisible(`form[method="post"] button`),
			chromedp.Click(`form[method="post"] button`),
			chromedp.WaitVisible(`.notice`),
		)
		if flash := b.text(`.notice`); !strings.Contains(flash, "Your address is confirmed") {
			t.Fatalf("after confirming: %q", flash)
		}
		b.do("open the 2FA page", chromedp.Navigate(base+"/account/2fa"), chromedp.WaitVisible(`#totp-secret`))
		secret := strings.ReplaceAll(b.text(`#totp-secret`), " ", "")
		if w := b.eval(`document.querySelector("img.qr").naturalWidth`); w == 0 {
			t.Fatal("the QR code did not load (CSP?)")
		}
		b.do("enable 2FA",
			chromedp.SendKeys(`#code`, f.code(t, secret)),
			chromedp.Click(`form[action="/account/2fa"] button`),
			chromedp.WaitVisible(`#recovery-codes`),
		)
		if codes := b.text(`#recovery-codes`); strings.Count(codes, "-") != 10 {
			t.Fatalf("recovery codes: %q", codes)
		}
		b.do("sign out", chromedp.Click(`header form button`), chromedp.WaitVisible(`#password`))
		// The code of the step that enabled it is spent: the next step's code signs in.
		f.clock.Advance(30 * time.Second)
		b.do("sign in with password and code",
			chromedp.SendKeys(`#email`, email),
			chromedp.SendKeys(`#password`, password),
			chromedp.Click(`form[action="/login"] button`),
			chromedp.WaitVisible(`#code`),
			chromedp.SendKeys(`#code`, f.code(t, secret)),
			chromedp.Click(`form[action="/login"] button`),
			chromedp.WaitVisible(`header nav a[href="/account"]`),
		)
		if signed := b.text(`header nav a[href="/account"]`); signed != email {
			t.Fatalf("signed in as %q", signed)
		}
	})
}

// TestBrowserCustomerPortal drives Chromium through the customer's pages: sign in by an
// emailed link, find a ticket mail made before the account, open a ticket from a
// template with an attachment, reply, read an agent's answer that came by mail, close,
// rate; then the same pages at 360×740, none wider than the screen, screenshots in the
// test's artifact directory (go test -artifacts keeps them).
func TestBrowserCustomerPortal(t *testing.T) {
	path := chromium(t)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setupAccounts(t, st, accOptions{})
		sink := sinktest.Start(t)
		worker := outbound.NewWorker(st, outbound.WorkerConfig{Relay: sink.Addr}, quietLog())
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { worker.Run(wctx); close(done) }()
		t.Cleanup(func() { stop(); <-done })
		if _, err := store.UpsertAgent(ctx, st.DB, "ana@example.com", "Ana", "Support"); err != nil {
			t.Fatal(err)
		}
		agent, err := store.AgentByEmail(ctx, st.DB, "ana@example.com")
		if err != nil {
			t.Fatal(err)
		}
		mailed, _, _ := f.mailTicket(t, "carol@example.org", "Printer on fire", "It burns.")
		b := newTab(t, path, 1024, 800)
		base := f.srv.URL

		b.do("ask for a sign-in link",
			chromedp.Navigate(base+"/login/link"),
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, "carol@example.org"),
			chromedp.Click(`form[action="/login/link"] button`),
			chromedp.WaitNotPresent(`#email`),
		)
		var link string
		for _, m := range sink.Wait(t, 3, 30*time.Second) { // the acknowledgement, the agents' mail, the link
			env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
			if err == nil && m.Header.Get("X-Mxdesk-Kind") == outbound.KindAccountSignIn {
				link = accountLinkRE.FindString(env.Text)
			}
		}
		if link == "" {
			t.Fatal("no sign-in link reached the relay")
		}
		b.do("sign in by the link",
			chromedp.Navigate(link),
			chromedp.WaitVisible(`form[method="post"] button`),
			chromedp.Click(`form[method="post"] button`),
			chromedp.WaitVisible(`#active-count`),
			chromedp.Navigate(base+"/my-tickets"),
			chromedp.WaitVisible(fmt.Sprintf(`a[href="/my-tickets/%d"]`, mailed)),
		)

		file := filepath.Join(t.TempDir(), "screenshot-of-error.txt")
		if err := os.WriteFile(file, []byte("Error 42 at line 7"), 0o600); err != nil {
			t.Fatal(err)
		}
		b.do("open a ticket from a template with an attachment",
			chromedp.Navigate(base+"/my-tickets/new"),
			chromedp.Click(`ul.templates a[href*="template=Bug"]`),
			chromedp.WaitVisible(`.notice`),
			chromedp.SendKeys(`#subject`, "Crash when saving"),
			chromedp.SetUploadFiles(`#attachments`, []string{file}),
			chromedp.Click(`form[action="/my-tickets/new"] button`),
		)
		b.waitFor(`location.search.includes("done=created")`)
		if flash := b.text(`.notice`); !strings.Contains(flash, "is open") {
			t.Fatalf("after creating: %q", flash)
		}
		loc, err := chromedp.Run(b.ctx, chromedp.Location())
		m := ticketURL.FindStringSubmatch(strings.TrimPrefix(loc, base))
		if err != nil || m == nil {
			t.Fatalf("location %q: %v", loc, err)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		page := fmt.Sprintf("%s/my-tickets/%d", base, id)
		if body := b.text(`main`); !strings.Contains(body, "screenshot-of-error.txt") || !strings.Contains(body, "Steps to reproduce") {
			t.Fatalf("ticket page:\n%s", body)
		}
		b.do("reply",
			chromedp.SendKeys(`#body`, "It happens every time."),
			chromedp.Click(fmt.Sprintf(`form[action="/my-tickets/%d/reply"] button`, id)),
		)
		b.waitFor(`location.search.includes("done=reply")`)
		// The agent answers by mail: the same path ingest takes for the agents' reply address.
		err = st.Tx(ctx, func(tx *sqlx.Tx) error {
			_, err := f.tickets.HandleAgentMail(ctx, tx, id, ticket.AgentMail{Agent: agent, Authenticated: true,
				Message: ticket.Incoming{From: ticket.Person{Email: "ana@example.com", Name: "Ana"}, Text: "Fixed in 2.2, please update."}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		b.do("read the answer", chromedp.Navigate(page), chromedp.WaitVisible(`#close`))
		if body := b.text(`main`); !strings.Contains(body, "Fixed in 2.2") || !strings.Contains(body, "It happens every time.") {
			t.Fatalf("conversation:\n%s", body)
		}
		b.do("close and rate",
			chromedp.Click(`#close`),
			chromedp.WaitVisible(`input[name="rating"][value="5"]`),
			chromedp.Click(`input[name="rating"][value="5"]`),
			chromedp.SetValue(`#option`, "Problem solved"),
			chromedp.SendKeys(`#comment`, "Quick and right."),
			chromedp.Click(fmt.Sprintf(`form[action="/my-tickets/%d/rate"] button`, id)),
		)
		b.waitFor(`location.search.includes("done=rate")`)
		fb, err := store.ListFeedback(ctx, st.DB, id)
		if err != nil || len(fb) != 1 || fb[0].Rating != 5 || fb[0].Choice != "Problem solved" || fb[0].Comment != "Quick and right." {
			t.Fatalf("feedback: %+v %v", fb, err)
		}
		if f.ticketRow(t, id).Status != ticket.StatusClosed {
			t.Fatal("not closed")
		}

		// A phone: 360 px wide. Nothing may be wider than the screen.
		dir := t.ArtifactDir()
		for _, p := range []struct{ name, path string }{
			{"home", "/"}, {"my-tickets", "/my-tickets"}, {"new-ticket", "/my-tickets/new?template=Bug+Report"},
			{"ticket", fmt.Sprintf("/my-tickets/%d", id)}, {"mailed-ticket", fmt.Sprintf("/my-tickets/%d", mailed)}, {"account", "/account"},
		} {
			b.do("open "+p.name+" at 360x740", chromedp.EmulateViewport(360, 740), chromedp.Navigate(base+p.path), chromedp.WaitVisible(`main`))
			if over := b.eval(`document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				t.Errorf("%s is %d px wider than a 360 px screen", p.name, over)
			}
			shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(80))
			if err != nil {
				t.Fatalf("screenshot %s: %v", p.name, err)
			}
			if err := os.WriteFile(filepath.Join(dir, p.name+"-360.jpg"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}
