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
		if name == store.Postgres {
			// One connection, so that one server process does every search and its CPU
			// time can be read (searches run one at a time anyway).
			st.DB.SetMaxOpenConns(1)
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
				server0 := serverCPU(b, st)
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
				if server1 := serverCPU(b, st); server0 >= 0 && server1 >= 0 {
					b.ReportMetric(float64((server1-server0).Microseconds())/1000/float64(len(lat)), "server-cpu-ms/op")
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// serverCPU is the CPU time (user and system) of the PostgreSQL server process behind
// st's one connection, read from /proc: like SQLite's CPU time per search, a figure the
// other programs on a shared box inflate much less than the wall time. It is -1 on
// SQLite, and when the server does not run on this machine (or /proc is unreadable).
func serverCPU(b *testing.B, st *store.Store) time.Duration {
	if st.Dialect != store.Postgres {
		return -1
	}
	var pid int
	if err := st.DB.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold spaces: the fields after it are counted.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return -1
	}
	var utime, stime int64
	if _, err := fmt.Sscan(fields[11]+" "+fields[12], &utime, &stime); err != nil {
		return -1
	}
	// Linux counts these in clock ticks of 1/100 s (USER_HZ) on every architecture Go
	// supports.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
