package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runStats is what run prints (one JSON object).
type runStats struct {
	Sent      int64   `json:"sent"`      // distinct messages attempted
	Accepted  int64   `json:"accepted"`  // got 2xx to the end of DATA
	TempFail  int64   `json:"temp_fail"` // attempts that failed temporarily (retried with -retry)
	PermFail  int64   `json:"perm_fail"` // 5xx: given up
	GaveUp    int64   `json:"gave_up"`   // still temporary when the drain time ran out
	Seconds   float64 `json:"seconds"`   // first connect to last reply
	Rate      float64 `json:"msg_per_s"` // accepted / seconds
	P50ms     float64 `json:"p50_ms"`    // end of DATA to 250, accepted messages
	P90ms     float64 `json:"p90_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	FirstErr  string  `json:"first_error,omitempty"`
	Errors    int64   `json:"errors"`
	Templates int     `json:"templates"`
	// CPUms is loadgen's own CPU per message sent, user and system: on a box it shares
	// with the server, the client's part of what the cores do.
	CPUms float64 `json:"cpu_ms"`
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2525", "server address (loopback)")
	conc := fs.Int("c", 20, "concurrent senders (one connection each at a time)")
	count := fs.Int("n", 1000, "messages to send (0: until -duration or SIGTERM)")
	duration := fs.Duration("duration", 0, "send new messages for this long (with -n 0)")
	tdir := fs.String("templates", "", "directory of *.eml templates (loadgen gen)")
	rcpt := fs.String("rcpt", "support@example.com", "envelope recipient")
	retry := fs.Bool("retry", false, "retry a temporarily failed message (same Message-ID) until accepted, like an MTA")
	drain := fs.Duration("drain", 2*time.Minute, "with -retry: how long to keep retrying after the last new message")
	accepted := fs.String("accepted", "", "append the Message-ID of every accepted message to this file")
	prefix := fs.String("id-prefix", fmt.Sprintf("%d.%d", os.Getpid(), time.Now().UnixNano()%1e9), "Message-ID prefix, unique per run")
	timeout := fs.Duration("timeout", 60*time.Second, "per-connection deadline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmpls, err := loadTemplates(*tdir)
	if err != nil {
		return err
	}
	var acc *syncLines
	if *accepted != "" {
		if acc, err = openLines(*accepted); err != nil {
			return err
		}
		defer acc.Close()
	}

	stop := make(chan struct{})
	var stopOnce sync.Once
	stopNew := func() { stopOnce.Do(func() { close(stop) }) }
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; stopNew() }()
	if *duration > 0 {
		time.AfterFunc(*duration, stopNew)
	}

	var (
		next     atomic.Int64
		st       runStats
		mu       sync.Mutex
		lats     []time.Duration
		firstErr string
		wg       sync.WaitGroup
	)
	st.Templates = len(tmpls)
	var drainDeadline atomic.Int64 // unix nanos, set when new messages stop
	go func() { <-stop; drainDeadline.Store(time.Now().Add(*drain).UnixNano()) }()
	begin := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); lats = append(lats, mine...); mu.Unlock() }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := next.Add(1) - 1
				if *count > 0 && i >= int64(*count) {
					return
				}
				t := tmpls[int(i)%len(tmpls)]
				mid := fmt.Sprintf("%s.%d@loadgen.example.org", *prefix, i)
				env := envelope{mailFrom: t.from, rcpt: []string{*rcpt},
					head: []byte("Message-ID: <" + mid + ">\r\n"), body: t.data}
				atomic.AddInt64(&st.Sent, 1)
				for attempt := 0; ; attempt++ {
					o := sendOne(*addr, "loadgen.example.org", env, *timeout)
					if o.accepted() {
						atomic.AddInt64(&st.Accepted, 1)
						mine = append(mine, o.dataEnd)
						if acc != nil {
							acc.Write(mid)
						}
						break
					}
					atomic.AddInt64(&st.Errors, 1)
					mu.Lock()
					if firstErr == "" {
						firstErr = fmt.Sprintf("%s: %v", o.stage, o.err)
					}
					mu.Unlock()
					if !o.temporary() {
						atomic.AddInt64(&st.PermFail, 1)
						break
					}
					atomic.AddInt64(&st.TempFail, 1)
					if !*retry {
						break
					}
					if d := drainDeadline.Load(); d != 0 && time.Now().UnixNano() > d {
						atomic.AddInt64(&st.GaveUp, 1)
						break
					}
					time.Sleep(time.Duration(20+min(attempt, 10)*20) * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	st.Seconds = time.Since(begin).Seconds()
	st.FirstErr = firstErr
	if st.Seconds > 0 {
		st.Rate = float64(st.Accepted) / st.Seconds
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil && st.Sent > 0 {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		st.CPUms = ms(cpu) / float64(st.Sent)
	}
	slices.Sort(lats)
	st.P50ms, st.P90ms, st.P99ms = pct(lats, 0.50), pct(lats, 0.90), pct(lats, 0.99)
	if len(lats) > 0 {
		st.MaxMs = ms(lats[len(lats)-1])
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}

// pct is the nearest-rank percentile of sorted durations, in milliseconds.
func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// syncLines appends lines to a file from many goroutines.
type syncLines struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

func openLines(path string) (*syncLines, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &syncLines{f: f, w: bufio.NewWriter(f)}, nil
}

func (s *syncLines) Write(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.WriteString(line)
	s.w.WriteByte('\n')
}

func (s *syncLines) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: flush:", err)
	}
}

func (s *syncLines) Close() {
	s.Flush()
	s.f.Close()
}
