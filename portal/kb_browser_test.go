package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestABrowserSearchesFromTheHomePageReadsAndVotes drives a real Chromium: search from
// the home page, open the result, vote and see the vote recorded; then the type-ahead.
func TestABrowserSearchesFromTheHomePageReadsAndVotes(t *testing.T) {
	bin := chromium(t)
	st := storetest.Open(t, "sqlite:"+t.TempDir()+"/m.db")
	srv := kbServer(t, st, portal.KBOptions{Public: true}).srv

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first call starts the browser and must not carry a timeout (it would stop the
	// browser); the steps after it do.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	do("search from the home page",
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "dkim signing"),
		chromedp.Submit(chromedp.CSS(`input[name=q]`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.results li a`)))
	firstResult := text(`ul.results li a`)
	do("open the article", chromedp.Click(chromedp.CSS(`ul.results li a[href="/kb/dkim-signing"]`)),
		chromedp.WaitVisible(chromedp.CSS(`article h1`)))
	title := text(`article h1`)
	do("vote", chromedp.Click(chromedp.CSS(`#vote-yes`)),
		chromedp.WaitVisible(chromedp.CSS(`#vote p:nth-of-type(2)`)))
	voted := text(`#vote`)
	// The type-ahead of the knowledge base's pages lists the article while the words are
	// typed (the script is allowed on these pages only).
	do("type into the knowledge base's search box", chromedp.Navigate(srv.URL+"/kb"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "dkim sig"),
		chromedp.WaitVisible(chromedp.CSS(`ul.kb-suggest a[href="/kb/dkim-signing"]`)))
	suggestion := text(`ul.kb-suggest li`)
	if !strings.Contains(suggestion, "Sign outgoing mail with DKIM") {
		t.Errorf("type-ahead showed %q", suggestion)
	}
	if firstResult != "Sign outgoing mail with DKIM" {
		t.Errorf("first result %q", firstResult)
	}
	if title != "Sign outgoing mail with DKIM" {
		t.Errorf("article title %q", title)
	}
	if !strings.Contains(voted, "You found this helpful") {
		t.Errorf("after voting the page says %q", voted)
	}
	a, err := store.KBArticleBySlug(context.Background(), st.DB, "dkim-signing")
	if err != nil {
		t.Fatal(err)
	}
	if a.Helpful != 1 || a.Views != 1 {
		t.Errorf("article counts: %d helpful, %d views; want 1 and 1", a.Helpful, a.Views)
	}
}
