package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// BenchmarkSignIn measures POST /login with a right password through the whole portal
// (HTTP, session lookup, argon2id at t=2, 19 MiB, the hash semaphore, the session
// insert), by 1 and by 50 clients at once, each its own account. It reports the
// latency's p50 and p99 and the process's peak RSS during the run (VmHWM, reset before
// it): the semaphore is what keeps 50 parallel attempts from costing 50 × 19 MiB.
//
//	go test ./portal -run '^$' -bench SignIn -benchtime 200x
func BenchmarkSignIn(b *testing.B) {
	for name, mk := range storetest.Dialects(b) {
		for _, conc := range []int{1, 50} {
			b.Run(fmt.Sprintf("%s/concurrent=%d", name, conc), func(b *testing.B) {
				st := storetest.Open(b, mk(b))
				benchSignIn(b, st, conc)
			})
		}
	}
}

func benchSignIn(b *testing.B, st *store.Store, conc int) {
	ctx := context.Background()
	off := account.Limits{} // the throttles would stop a benchmark; they are not what is measured
	f := setupAccounts(b, st, accOptions{limits: &off})
	hash, err := account.NewHasher(account.DefaultParams, 1).Hash(ctx, goodPassword)
	if err != nil {
		b.Fatal(err)
	}
	for i := range conc {
		a, err := store.EnsureAccount(ctx, st.DB, fmt.Sprintf("bench%d@example.org", i), store.Now())
		if err == nil {
			err = store.VerifyAccount(ctx, st.DB, a.ID, store.Now())
		}
		if err == nil {
			err = store.SetAccountPassword(ctx, st.DB, a.ID, hash, store.Now())
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: conc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resetPeakRSS(b)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range conc {
		body := url.Values{"email": {fmt.Sprintf("bench%d@example.org", w)}, "password": {goodPassword}}.Encode()
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				start := time.Now()
				resp, err := client.Post(f.srv.URL+"/login", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther {
					b.Errorf("sign-in: %d", resp.StatusCode)
					return
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
}

// resetPeakRSS starts VmHWM over (Linux: writing 5 to clear_refs).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): it covers the whole process", err)
	}
}

func peakRSSMiB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Logf("peak RSS: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
