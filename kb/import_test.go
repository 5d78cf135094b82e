package kb_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/kb"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestASecondImportOfTheDocsChangesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		first := importDocs(t, st)
		if first.Added < 50 || first.Updated+first.Unchanged+first.Archived != 0 {
			t.Fatalf("first import: %v; want at least 50 added and nothing else", first)
		}
		second := importDocs(t, st)
		if second.Unchanged != first.Added || second.Added+second.Updated+second.Archived != 0 {
			t.Fatalf("second import: %v; want all %d unchanged", second, first.Added)
		}
	})
}

func TestImportUpdatesArchivesAndPrunes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"a.md":       "---\ntitle: A\n---\nalpha\n",
			"sub/b.md":   "---\ntitle: B\ncategory: Sub\ntags: [x, y]\n---\nbeta\n",
			"c.md":       "---\ntitle: C\nstatus: draft\n---\ngamma\n",
			".hidden.md": "---\ntitle: Hidden\n---\n",
		})
		imp := func(prune bool) kb.Result {
			t.Helper()
			res, err := kb.Import(ctx, st, dir, kb.Options{Prune: prune})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Skipped) > 0 {
				t.Fatalf("skipped %v", res.Skipped)
			}
			return res
		}
		if got := imp(false).String(); got != "3 added, 0 updated, 0 unchanged, 0 archived" {
			t.Fatalf("first: %s", got)
		}
		writeFiles(t, dir, map[string]string{"a.md": "---\ntitle: A2\n---\nalpha two\n"})
		os.Remove(filepath.Join(dir, "sub", "b.md"))
		if got := imp(false).String(); got != "0 added, 1 updated, 1 unchanged, 1 archived" {
			t.Fatalf("second: %s", got)
		}
		b, err := store.KBArticleBySlug(ctx, st.DB, "b")
		if err != nil || b.Status != kb.StatusArchived {
			t.Fatalf("b after its file went: %+v, %v", b, err)
		}
		if got := imp(false).String(); got != "0 added, 0 updated, 2 unchanged, 0 archived" {
			t.Fatalf("third: %s", got)
		}
		// The file comes back: the article is published again.
		writeFiles(t, dir, map[string]string{"sub/b.md": "---\ntitle: B\ncategory: Sub\ntags: [x, y]\n---\nbeta\n"})
		if got := imp(false).String(); got != "0 added, 1 updated, 2 unchanged, 0 archived" {
			t.Fatalf("fourth: %s", got)
		}
		os.Remove(filepath.Join(dir, "c.md"))
		if got := imp(true).String(); got != "0 added, 0 updated, 2 unchanged, 0 archived, 1 deleted" {
			t.Fatalf("prune: %s", got)
		}
		if _, err := store.KBArticleBySlug(ctx, st.DB, "c"); err == nil {
			t.Fatal("c survived --prune")
		}
	})
}

func TestBadArticlesAreNamedWithTheLineAndSkipped(t *testing.T) {
	big := "---\ntitle: Big\n---\n" + strings.Repeat("x", 5<<20)
	files := map[string]string{
		"good.md":         "---\ntitle: Good\n---\nfine\n",
		"zdup.md":         "---\ntitle: Dup\nslug: good\n---\n",
		"notitle.md":      "---\ncategory: X\n---\nbody\n",
		"status.md":       "---\ntitle: S\nstatus: live\n---\n",
		"broken.md":       "---\ntitle: B\ntags: [a, b\n---\n",
		"unknown.md":      "---\ntitle: U\ntitel: typo\n---\n",
		"nofm.md":         "# just markdown\n",
		"unclosed.md":     "---\ntitle: U\n",
		"big.md":          big,
		"Bad Name.md":     "---\ntitle: N\n---\n",
		"escape.md":       "---\ntitle: E\n---\n![x](../../etc/passwd.png)\n",
		"missingimg.md":   "---\ntitle: M\n---\n![x](nope.png)\n",
		"svg.md":          "---\ntitle: S\n---\n![x](logo.svg)\n",
		"badlang.md":      "---\ntitle: L\nlang: english\n---\n",
		"dupkey.md":       "---\ntitle: A\ntitle: B\n---\n",
		"script.md":       "---\ntitle: Script\n---\nHello <script>alert(1)</script> [click](javascript:alert(2)) <img src=x onerror=alert(3)>\n\n<a href=\"javascript:alert(4)\">raw</a>\n",
		"images/ok.md":    "---\ntitle: Img\n---\n![shot](shot.png)\n\n- [x] done\n- [ ] todo\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```go\nfmt.Println()\n```\n\n## Section One\n",
		"images/shot.png": "\x89PNG\r\n\x1a\nfake",
		"crlf.md":         "\ufeff---\r\ntitle: CRLF\r\n---\r\nwindows\r\n",
	}
	want := map[string]string{
		"zdup.md":       `zdup.md: slug "good" is already used by good.md`,
		"notitle.md":    "notitle.md:1: title is missing",
		"status.md":     `status.md:3: unknown status "live"`,
		"broken.md":     "broken.md:3: front matter:",
		"unknown.md":    `unknown.md:3: front matter: unknown field "titel"`,
		"nofm.md":       "nofm.md:1: no front matter",
		"unclosed.md":   "unclosed.md:1: the front matter is not closed",
		"big.md":        "big.md: 5.0 MB is over the limit of 1024 KB",
		"Bad Name.md":   `Bad Name.md:1: the file name makes the slug "bad name"`,
		"escape.md":     "outside the article's directory",
		"missingimg.md": `image "nope.png": no such file beside the article`,
		"svg.md":        `image "logo.svg": want .png`,
		"badlang.md":    `badlang.md:3: lang "english"`,
		"dupkey.md":     "dupkey.md:3: front matter:",
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		dir := t.TempDir()
		writeFiles(t, dir, files)
		res, err := kb.Import(ctx, st, dir, kb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Added != 4 {
			t.Errorf("added %d, want good, script, images/ok and crlf: %v", res.Added, res)
		}
		got := map[string]string{}
		for _, e := range res.Skipped {
			fe := e.(*kb.FileError)
			got[fe.File] = fe.Error()
		}
		for file, w := range want {
			if !strings.Contains(got[file], w) {
				t.Errorf("%s: got %q, want it to contain %q", file, got[file], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("skipped %d files, want %d: %v", len(got), len(want), got)
		}
		s, err := store.KBArticleBySlug(ctx, st.DB, "script")
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<script", "javascript:", "onerror"} {
			if strings.Contains(s.BodyHTML, bad) {
				t.Errorf("rendered HTML keeps %q: %s", bad, s.BodyHTML)
			}
		}
		img, err := store.KBArticleBySlug(ctx, st.DB, "ok")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{`src="/kb/ok/img/shot.png"`, `type="checkbox"`, `checked`, `align="right"`,
			`class="language-go"`, `id="section-one"`, `<table>`} {
			if !strings.Contains(img.BodyHTML, w) {
				t.Errorf("rendered HTML lacks %q: %s", w, img.BodyHTML)
			}
		}
		sum, ctype, err := store.KBImage(ctx, st.DB, "ok", "shot.png")
		if err != nil || ctype != "image/png" || sum != store.SHA256([]byte("\x89PNG\r\n\x1a\nfake")) {
			t.Errorf("image: %s %s %v", sum, ctype, err)
		}
		if c, err := store.KBArticleBySlug(ctx, st.DB, "crlf"); err != nil || c.Title != "CRLF" {
			t.Errorf("crlf: %+v %v", c, err)
		}
		// A file that stops parsing keeps its article as it was: a typo archives nothing.
		writeFiles(t, dir, map[string]string{"good.md": "---\ntitle: [broken\n---\n"})
		res, err = kb.Import(ctx, st, dir, kb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if g, err := store.KBArticleBySlug(ctx, st.DB, "good"); err != nil || g.Status != kb.StatusPublished || res.Archived != 0 {
			t.Errorf("good after its file broke: %+v %v, %v", g, err, res)
		}
	})
}
