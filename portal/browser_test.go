package portal_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jhillyerd/enmime/v2"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
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
