package mailimport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// newTestImporter wires an importer for st the way `mxdesk import` does.
func newTestImporter(t testing.TB, st *store.Store) *Importer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router := ingest.NewRouter([]config.Mailbox{{Address: "support@example.com", Team: "Support"}}, threading.NewSigner(bytes.Repeat([]byte{1}, 32)))
	tickets := ticket.New(st, ticket.Config{}, log)
	ing, err := ingest.NewArchive(st, ingest.Config{Resolve: router.Resolve, Own: router.Own, Tickets: tickets}, "support@example.com", log)
	if err != nil {
		t.Fatal(err)
	}
	return New(st, ing, tickets, log)
}

// fourKiB is a 4 KiB customer message, the size the import speed is stated for.
func fourKiB(i int, date time.Time) []byte {
	h := fmt.Sprintf("From: Customer %d <c%d@example.org>\nTo: support@example.com\nDate: %s\nMessage-ID: <m%d@example.org>\nSubject: Question %d\nContent-Type: text/plain; charset=utf-8\n\n",
		i, i%500, date.Format(time.RFC1123Z), i, i)
	body := strings.Repeat("The quick brown fox jumps over the lazy dog. 0123456789\n", (4096-len(h))/56)
	return []byte(h + body)
}

func writeTestMbox(t testing.TB, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs [][]byte
	for i := 0; i < n; i++ {
		msgs = append(msgs, fourKiB(i, base.Add(time.Duration(i)*time.Minute)))
		if len(msgs) == 1000 || i == n-1 {
			writeMboxrd(f, msgs)
			msgs = msgs[:0]
		}
	}
}

func TestImportMaildirAndEMLDirectories(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		dir := t.TempDir()
		md := filepath.Join(dir, "Maildir")
		old := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
		write(t, filepath.Join(md, "cur", "1:2,S"), string(fourKiB(1, old)))
		write(t, filepath.Join(md, "new", "2"), string(fourKiB(2, old)))
		write(t, filepath.Join(md, "tmp", "3"), string(fourKiB(3, old)))
		write(t, filepath.Join(md, ".Archive", "cur", "4:2,S"), string(fourKiB(4, old)))
		// A saved .eml that begins with an mbox separator line.
		write(t, filepath.Join(dir, "eml", "5.eml"), "From c5@example.org Fri May  1 00:00:00 2020\n"+string(fourKiB(5, old)))
		im := newTestImporter(t, st)
		sum, err := im.Run(context.Background(), Options{Kind: KindMaildir, Path: md, ClosedBefore: 14 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Messages != 3 || sum.Tickets != 3 || sum.Closed != 3 || len(sum.Failed) != 0 {
			t.Errorf("maildir: %+v; want 3 messages (tmp/ left alone), 3 tickets, all closed", sum)
		}
		sum, err = im.Run(context.Background(), Options{Kind: KindEML, Path: filepath.Join(dir, "eml")})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Tickets != 1 || len(sum.Failed) != 0 {
			t.Errorf("eml: %+v; want 1 ticket", sum)
		}
		var subject string
		storetest.MustNotErr(t, "read", st.DB.Get(&subject, "SELECT subject FROM messages WHERE message_id LIKE '%m5@example.org%'"))
		if subject != "Question 5" {
			t.Errorf("the .eml's separator line was not dropped: subject %q", subject)
		}
	})
}

// TestImportKeepsMalformedAndSkipsOversized: a message the parser cannot read cleanly
// is still stored (raw kept, errors noted); one over the size limit is skipped with the
// reason; a file that vanishes between the passes is skipped, not an error.
func TestImportKeepsMalformedAndSkipsOversized(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "a.eml"), "Subject: broken\nContent-Type: multipart/mixed\n\nno boundary at all\n")
		write(t, filepath.Join(dir, "b.eml"), string(fourKiB(2, time.Now()))+strings.Repeat("x", 10000))
		write(t, filepath.Join(dir, "c.eml"), "\x00\xff\xfe garbage without headers")
		im := newTestImporter(t, st)
		sum, err := im.Run(context.Background(), Options{Kind: KindEML, Path: dir, MaxBytes: 8000})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Messages != 3 || sum.Tickets != 2 || len(sum.Skipped) != 1 || len(sum.Failed) != 0 ||
			!strings.Contains(sum.Skipped[0].Reason, "larger than") {
			t.Errorf("summary %+v", sum)
		}
	})
}

// BenchmarkImportMbox imports a 10,000-message mbox of 4 KiB messages into a fresh
// SQLite database per iteration and reports messages per second.
//
//	go test -run XXX -bench ImportMbox -benchtime 1x ./mailimport
func BenchmarkImportMbox(b *testing.B) {
	const n = 10000
	mbox := filepath.Join(b.TempDir(), "bench.mbox")
	writeTestMbox(b, mbox, n)
	b.ResetTimer()
	var total, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := storetest.Open(b, "sqlite:"+filepath.Join(b.TempDir(), "mxdesk.db"))
		im := newTestImporter(b, st)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		sum, err := im.Run(context.Background(), Options{Kind: KindMbox, Path: mbox})
		total, cpu = total+time.Since(start), cpu+cpuTime()-cpu0
		if err != nil || sum.Tickets != n {
			b.Fatalf("import: %v, %+v", err, sum)
		}
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "msg/s")
	// Messages per second of the process's CPU time (user+system, all threads): what the
	// import costs, whatever else the shared box is doing.
	b.ReportMetric(float64(n*b.N)/cpu.Seconds(), "msg/cpu-s")
}

// TestImportKeepsAFailedMessageAndRetriesIt: a message the database refuses is rolled
// back alone (the rest of its batch is stored), kept raw as an import_failed spool row
// with the error, and stored by the next run once the cause is gone.
func TestImportKeepsAFailedMessageAndRetriesIt(t *testing.T) {
	st := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "mxdesk.db"))
	ctx := context.Background()
	_, err := st.DB.Exec(`CREATE TRIGGER boom BEFORE INSERT ON tickets WHEN NEW.subject = 'Question 2'
		BEGIN SELECT RAISE(ABORT, 'boom: refused by a trigger'); END`)
	storetest.MustNotErr(t, "trigger", err)
	dir := t.TempDir()
	old := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		write(t, filepath.Join(dir, fmt.Sprintf("%d.eml", i)), string(fourKiB(i, old.Add(time.Duration(i)*time.Hour))))
	}
	im := newTestImporter(t, st)
	sum, err := im.Run(ctx, Options{Kind: KindEML, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tickets != 2 || len(sum.Failed) != 1 || !strings.Contains(sum.Failed[0].Error, "boom") || !strings.HasSuffix(sum.Failed[0].Source, "2.eml") {
		t.Fatalf("summary %+v", sum)
	}
	var kept struct {
		Status string `db:"status"`
		Error  string `db:"error"`
	}
	storetest.MustNotErr(t, "kept row", st.DB.Get(&kept, "SELECT status, error FROM inbound WHERE id = ?", sum.Failed[0].InboundID))
	if kept.Status != store.InboundImportFailed || !strings.Contains(kept.Error, "boom") {
		t.Errorf("kept as %+v", kept)
	}
	_, err = st.DB.Exec("DROP TRIGGER boom")
	storetest.MustNotErr(t, "drop trigger", err)
	sum, err = im.Run(ctx, Options{Kind: KindEML, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tickets != 1 || sum.AlreadyImported != 2 || len(sum.Failed) != 0 {
		t.Errorf("second run %+v: want the failed one stored, the others already imported", sum)
	}
	var left int
	storetest.MustNotErr(t, "count", st.DB.Get(&left, "SELECT count(*) FROM inbound WHERE status = ?", store.InboundImportFailed))
	if left != 0 {
		t.Errorf("%d import_failed rows left after the retry", left)
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
