package kb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/kb"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// benchArticles is the size of the knowledge base the benchmarks search.
const benchArticles = 10000

// writeBenchKB writes n articles: docs/kb's, and more made of docs/kb's words (Zipf-distributed, as words in
// prose are), deterministically, and returns the directory.
func writeBenchKB(b *testing.B, n int) string {
	b.Helper()
	var vocab []string
	seen := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(docsKB(b), "*.md"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(string(data)), func(r rune) bool { return r < 'a' || r > 'z' }) {
			if len(w) > 2 && !seen[w] {
				seen[w] = true
				vocab = append(vocab, w)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	words := func(k int) string {
		out := make([]string, k)
		for i := range out {
			out[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(out, " ")
	}
	dir := b.TempDir()
	// docs/kb's own articles among them, so its questions have their answers.
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	n -= len(files)
	cats := []string{"Email", "Agents", "Operations", "Configuration", "Tickets", "Customers"}
	for i := range n {
		var body strings.Builder
		for p := range 3 + r.IntN(4) {
			fmt.Fprintf(&body, "## Part %d\n\n%s.\n\n", p, words(40+r.IntN(60)))
		}
		text := fmt.Sprintf("---\ntitle: %q\ncategory: %s\ntags: [%s]\nsummary: %q\n---\n%s", words(3+r.IntN(4)),
			cats[i%len(cats)], strings.ReplaceAll(words(3), " ", ", "), words(12), body.String())
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("a%05d.md", i)), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkKBImport10k imports 10,000 articles into an empty knowledge base (run it with
// -benchtime=1x: each iteration is a whole import).
func BenchmarkKBImport10k(b *testing.B) {
	dir := writeBenchKB(b, benchArticles)
	for name, mk := range storetest.Dialects(b) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				st := storetest.Open(b, mk(b))
				b.StartTimer()
				res, err := kb.Import(context.Background(), st, dir, kb.Options{})
				if err != nil || res.Added != benchArticles || len(res.Skipped) > 0 {
					b.Fatalf("%v %v", res, err)
				}
			}
		})
	}
}

// BenchmarkKBSearch10k searches 10,000 articles with the fixture's questions: as the
// search page does (20 hits with snippets) and as the type-ahead does (5 hits, the last
// word a prefix). It reports the p50 and p99 of one search in milliseconds.
func BenchmarkKBSearch10k(b *testing.B) {
	dir := writeBenchKB(b, benchArticles)
	var queries []string
	for _, e := range searchExpectations {
		queries = append(queries, e.query)
	}
	for name, mk := range storetest.Dialects(b) {
		st := storetest.Open(b, mk(b))
		if _, err := kb.Import(context.Background(), st, dir, kb.Options{}); err != nil {
			b.Fatal(err)
		}
		// How many of the fixture's questions still have their answer in the first three
		// among 10,000 articles (the search scores at most kbBudget of them).
		found := 0
		for _, e := range searchExpectations {
			hits, err := st.SearchKB(context.Background(), store.KBQuery{Text: e.query, Lang: "en", Limit: 3})
			if err != nil {
				b.Fatal(err)
			}
			for _, h := range hits {
				if h.Slug == e.want {
					found++
				}
			}
		}
		b.Logf("%s: %d of %d questions answered in the top 3 among %d articles", name, found, len(searchExpectations), benchArticles)
		for _, mode := range []struct {
			name string
			q    func(text string) store.KBQuery
		}{
			{"page", func(text string) store.KBQuery {
				return store.KBQuery{Text: text, Lang: "en", Limit: 20, Snippets: true, Prefix: true}
			}},
			{"typeahead", func(text string) store.KBQuery {
				return store.KBQuery{Text: text[:max(3, len(text)*2/3)], Lang: "en", Limit: 5, Prefix: true}
			}},
		} {
			b.Run(name+"/"+mode.name, func(b *testing.B) {
				var lat []time.Duration
				i := 0
				cpu0 := cpuTime()
				for b.Loop() {
					start := time.Now()
					if _, err := st.SearchKB(context.Background(), mode.q(queries[i%len(queries)])); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
					i++
				}
				if name == store.SQLite {
					// SQLite runs in this process, so its CPU time per search is a figure
					// the other programs on a shared box do not inflate.
					b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(lat)), "cpu-ms/op")
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
