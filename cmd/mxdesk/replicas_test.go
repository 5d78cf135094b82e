package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// replica makes a second instance of inst on the same database: its own ports and data
// dir, the same configuration otherwise, and the same secret (replicas must share it, or
// one would refuse the other's reply addresses).
func (inst *instance) replica(dbURL, relay, extra string) *instance {
	t := inst.t
	t.Helper()
	r := newInstance(t, dbURL, relay, extra)
	secret, err := os.ReadFile(filepath.Join(inst.dir, "data", "secret.key"))
	if err != nil {
		t.Fatalf("start the first instance before its replica: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "data", "secret.key"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

var jobRan = regexp.MustCompile(`msg="scheduler: job ran" job=(\S+) .*tick=(\S+)`)

func TestTwoReplicasOnPostgresBehaveLikeOne(t *testing.T) {
	pg := os.Getenv("MXDESK_TEST_POSTGRES")
	if pg == "" {
		t.Skip("MXDESK_TEST_POSTGRES not set: replicas need PostgreSQL")
	}
	const messages, resolved = 500, 40
	url := storetest.PostgresURL(t, pg)
	sink := sinktest.Start(t)
	extra := `[feedback]
delay = "1s"
[jobs]
feedback-requests = "@every 1s"
outbound-sweep = "@every 1s"
inbound-retry = "@every 2s"
sla-warnings = "@every 2s"
auto-close = "@every 5s"
cleanup = "@every 5s"
`
	a := newInstance(t, url, sink.Addr, extra)
	a.start()
	b := a.replica(url, sink.Addr, extra)
	b.start()

	// Send to both at once, each message from its own customer (the loop guard counts
	// per address).
	var wg sync.WaitGroup
	errs := make(chan error, messages)
	work := make(chan int)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				addr := []string{a.smtp, b.smtp}[(i+w)%2]
				from := fmt.Sprintf("customer%d@example.org", i)
				raw := fmt.Sprintf("From: <%s>\r\nTo: support@example.com\r\nSubject: Replica test %d\r\nMessage-ID: <replica-%d@example.org>\r\n\r\nHello %d\r\n", from, i, i, i)
				if err := send(addr, from, []string{"support@example.com"}, raw); err != nil {
					errs <- fmt.Errorf("message %d: %w", i, err)
				}
			}
		}()
	}
	for i := range messages {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sink.Wait(t, messages, 3*time.Minute)

	ctx := context.Background()
	st, err := store.Open(ctx, url)
	storetest.MustNotErr(t, "open", err)
	defer st.Close()
	var tickets int
	storetest.MustNotErr(t, "count tickets", st.DB.Get(&tickets, "SELECT COUNT(*) FROM tickets"))
	if tickets != messages {
		t.Fatalf("%d tickets for %d messages", tickets, messages)
	}
	// An agent resolves some tickets; the feedback-requests job on one replica or the
	// other asks each customer once.
	_, err = st.DB.Exec(st.DB.Rebind(`UPDATE tickets SET status = 'resolved', resolved_at = ? WHERE id IN
		(SELECT id FROM tickets ORDER BY id LIMIT ?)`), time.Now().UTC().Add(-time.Minute), resolved)
	storetest.MustNotErr(t, "resolve", err)
	msgs := sink.Wait(t, messages+resolved, 2*time.Minute)
	// Three more runs of the job, on either replica, each of which would have sent a
	// second request if any could; then nothing may be in flight.
	feedbackRuns := func() int {
		n := 0
		for _, inst := range []*instance{a, b} {
			for _, m := range jobRan.FindAllStringSubmatch(inst.log.String(), -1) {
				if m[1] == "feedback-requests" {
					n++
				}
			}
		}
		return n
	}
	runs := feedbackRuns()
	waitFor(t, "three more feedback-requests runs", 30*time.Second, func() bool { return feedbackRuns() >= runs+3 })
	waitFor(t, "nothing in flight", 30*time.Second, func() bool { return a.settled() && b.settled() })

	msgs = sink.Messages()
	acks, feedback := map[string]int{}, map[string]int{}
	seen := map[string]int{}
	for _, m := range msgs {
		subject := m.Header.Get("Subject")
		seen[m.Header.Get("Message-ID")]++
		switch {
		case strings.Contains(subject, "How did we do?"):
			feedback[strings.Fields(subject)[0]]++
		case strings.Contains(subject, "Replica test"):
			acks[strings.Fields(subject)[0]]++
		default:
			t.Errorf("unexpected mail %q", subject)
		}
	}
	dups := 0
	for id, n := range seen {
		if n > 1 {
			dups++
			t.Errorf("Message-ID %s arrived %d times", id, n)
		}
	}
	if len(acks) != messages {
		t.Errorf("%d tickets acknowledged, want %d", len(acks), messages)
	}
	for tag, n := range acks {
		if n != 1 {
			t.Errorf("ticket %s acknowledged %d times", tag, n)
		}
	}
	if len(feedback) != resolved {
		t.Errorf("%d tickets asked for feedback, want %d", len(feedback), resolved)
	}
	for tag, n := range feedback {
		if n != 1 {
			t.Errorf("ticket %s asked for feedback %d times", tag, n)
		}
	}
	// No job ran twice for one tick, across both replicas; both took some ticks.
	ranBy := map[string]string{}
	per := map[string]int{}
	for name, inst := range map[string]*instance{"a": a, "b": b} {
		for _, m := range jobRan.FindAllStringSubmatch(inst.log.String(), -1) {
			key := m[1] + " " + m[2]
			if other, dup := ranBy[key]; dup {
				t.Errorf("job %s ran twice for tick %s (replicas %s and %s)", m[1], m[2], other, name)
			}
			ranBy[key] = name
			per[name]++
		}
	}
	t.Logf("%d messages, %d tickets, %d acknowledgements at the sink, %d feedback requests, %d duplicate Message-IDs; job runs: %v",
		messages, tickets, len(acks), len(feedback), dups, per)
	if per["a"]+per["b"] == 0 {
		t.Error("no job ran on either replica")
	}
}

func TestASecondServeOnOneSQLiteFileRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "shared.db")
	a := newInstance(t, "sqlite:"+db, "", "")
	a.start()
	b := newInstance(t, "sqlite:"+db, "", "")
	cmd := exec.Command(binary, "--config", b.cfgPath, "serve")
	cmd.Env = cleanEnv()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the second serve kept running:\n%s", out)
	}
	if err == nil {
		t.Fatalf("the second serve exited without an error:\n%s", out)
	}
	if !strings.Contains(string(out), "another mxdesk serve is already running") || !strings.Contains(string(out), db) {
		t.Errorf("the refusal does not say why or name the file:\n%s", out)
	}
}
