package ingest

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// The shared corpus of real-world mail lives beside the repository; it is never copied
// into it.
var corpusDir = filepath.Join("..", "..", "shared", "corpus")

// needCorpus skips a test when the corpus is not there, except under CI=true, where a
// missing corpus would silently hollow out the suite.
func needCorpus(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(corpusDir, "INDEX.csv")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the mail corpus is missing (%v): expected it at %s", err, corpusDir)
		}
		t.Skipf("mail corpus not found at %s (%v); skipping", corpusDir, err)
	}
}

// corpusEntry is one row of INDEX.csv.
type corpusEntry struct {
	Source, Path, Kind, Category, LineEndings, Expectation string
}

// File is the entry's path from the package directory.
func (e corpusEntry) File() string {
	return filepath.Join(corpusDir, e.Source, filepath.FromSlash(e.Path))
}

func readIndex(t testing.TB) []corpusEntry {
	t.Helper()
	needCorpus(t)
	f, err := os.Open(filepath.Join(corpusDir, "INDEX.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		t.Fatalf("INDEX.csv: %v", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, want := range []string{"source", "path", "kind", "category", "line_endings", "expectation"} {
		if _, ok := col[want]; !ok {
			t.Fatalf("INDEX.csv has no %q column (header %q)", want, head)
		}
	}
	var out []corpusEntry
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("INDEX.csv: %v", err)
		}
		out = append(out, corpusEntry{
			Source: rec[col["source"]], Path: rec[col["path"]], Kind: rec[col["kind"]], Category: rec[col["category"]],
			LineEndings: rec[col["line_endings"]], Expectation: rec[col["expectation"]],
		})
	}
	return out
}

// corpusMessage is one RFC 5322 message of the corpus.
type corpusMessage struct {
	Name     string // source/path, with #n for a message inside an mbox
	Source   string
	Category string
	Raw      []byte
}

// corpusMessages returns every message: the kind=message files and the messages of the
// mbox files, split at their "From " lines.
func corpusMessages(t testing.TB) []corpusMessage {
	t.Helper()
	var out []corpusMessage
	for _, e := range readIndex(t) {
		if e.Kind != "message" && e.Kind != "mbox" {
			continue
		}
		raw, err := os.ReadFile(e.File())
		if err != nil {
			t.Fatalf("%s/%s is in INDEX.csv but unreadable: %v", e.Source, e.Path, err)
		}
		name := e.Source + "/" + e.Path
		if e.Kind == "message" {
			out = append(out, corpusMessage{Name: name, Source: e.Source, Category: e.Category, Raw: raw})
			continue
		}
		for i, m := range splitMbox(raw) {
			out = append(out, corpusMessage{Name: fmt.Sprintf("%s#%d", name, i+1), Source: e.Source, Category: e.Category, Raw: m})
		}
	}
	return out
}

// splitMbox splits an mbox at the "From " line that starts each message; each part keeps
// its own "From " line, which Parse must drop.
func splitMbox(raw []byte) [][]byte {
	var out [][]byte
	for len(raw) > 0 {
		i := bytes.Index(raw[1:], []byte("\nFrom "))
		if i < 0 {
			out = append(out, raw)
			break
		}
		out = append(out, raw[:i+2])
		raw = raw[i+2:]
	}
	return out
}

func TestCorpusHasTheMessagesTheManifestPromises(t *testing.T) {
	msgs := corpusMessages(t)
	mbox := 0
	for _, m := range msgs {
		if strings.Contains(m.Name, "#") {
			mbox++
		}
	}
	// 771 single-message files plus 37 messages in sisimai's mbox-0 (docs/testing.md).
	if len(msgs) != 808 || mbox != 37 {
		t.Errorf("corpus has %d messages, %d of them from mbox files; the manifest says 808 and 37", len(msgs), mbox)
	}
	for _, m := range msgs {
		if strings.Contains(m.Name, "#") && !bytes.HasPrefix(m.Raw, []byte("From ")) {
			t.Errorf("%s does not start with its mbox From line: the split is off", m.Name)
		}
	}
}

// TestCorpusIngestsEveryMessage runs every corpus message through the real Ingester, one
// database for all, as mail to support@ from sender@example.org: each must be stored as
// exactly one message. The fixtures reuse Message-IDs freely (143 of 808 repeat an
// earlier one), and ingest deduplicates by Message-ID within a team (guarantee 2), so
// each message is routed to a team of its own: support@ still names the mailbox, and the
// rest of the path (parse, classify, threading, store, acknowledgement) is the real one.
func TestCorpusIngestsEveryMessage(t *testing.T) {
	msgs := corpusMessages(t)
	for name, mk := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, mk(t))
			signer := threading.NewSigner(testSecret)
			composer := testComposer(t)
			router := NewRouter(testMailboxes, signer)
			var team string
			resolve := func(rcpt string) (Route, bool) {
				rt, ok := router.Resolve(rcpt)
				rt.Team = team
				return rt, ok
			}
			g := newTestIngester(st, Config{Resolve: resolve, Own: router.Own}, ticket.Config{Signer: signer, Composer: composer},
				slog.New(slog.NewTextHandler(io.Discard, nil)))

			var parseErrs, fallbacks int
			kinds := map[string]int{}
			for i, m := range msgs {
				team = fmt.Sprintf("corpus %04d", i)
				in := &store.Inbound{MailFrom: "sender@example.org", Rcpt: []string{"support@example.com"}, Raw: m.Raw}
				storetest.MustNotErr(t, "spool "+m.Name, st.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
				if err := g.Process(ctx, in.ID); err != nil {
					t.Errorf("%s: %v", m.Name, err)
					continue
				}
				row, err := store.GetInbound(ctx, st.DB, in.ID)
				storetest.MustNotErr(t, "inbound "+m.Name, err)
				var stored []store.Message
				storetest.MustNotErr(t, "messages of "+m.Name, st.DB.Select(&stored, st.DB.Rebind("SELECT * FROM messages WHERE inbound_id = ?"), in.ID))
				if row.Status != store.InboundDone || len(stored) != 1 {
					t.Errorf("%s: spool row %q with %d message rows, want done with exactly 1", m.Name, row.Status, len(stored))
					continue
				}
				kinds[stored[0].Kind]++
				if pe := stored[0].ParseErrors; pe != "" {
					parseErrs++
					if strings.HasPrefix(pe, "unparsable message") {
						fallbacks++
						t.Logf("fallback parse: %s: %s", m.Name, firstLine(pe))
					}
				}
			}
			var n int
			storetest.MustNotErr(t, "count", st.DB.Get(&n, "SELECT COUNT(*) FROM messages"))
			if n != len(msgs) {
				t.Errorf("%d message rows for %d corpus messages", n, len(msgs))
			}
			t.Logf("%d corpus messages ingested, %d message rows; %d with parse errors recorded (%d through the fallback parser); kinds %v",
				len(msgs), n, parseErrs, fallbacks, kinds)
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// zammadExpectation is what zammad's mailNNN.yml says the parser must find. The YAML
// uses Ruby tags, so the few top-level scalars needed are read line by line.
type zammadExpectation struct {
	FromEmail, FromDisplayName, Subject string
}

func readZammadYML(t *testing.T, path string) zammadExpectation {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e zammadExpectation
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		if strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") {
			v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
		}
		switch k {
		case "from_email":
			e.FromEmail = v
		case "from_display_name":
			e.FromDisplayName = v
		case "subject":
			e.Subject = v
		}
	}
	return e
}

func TestParseMeetsZammadExpectations(t *testing.T) {
	needCorpus(t)
	dir := filepath.Join(corpusDir, "zammad", "test", "data", "mail")
	ymls, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(ymls) == 0 {
		t.Fatalf("no zammad expectations under %s: %v", dir, err)
	}
	p := NewParser()
	for _, yml := range ymls {
		name := strings.TrimSuffix(filepath.Base(yml), ".yml")
		t.Run(name, func(t *testing.T) {
			want := readZammadYML(t, yml)
			raw, err := os.ReadFile(strings.TrimSuffix(yml, ".yml") + ".box")
			if errors.Is(err, fs.ErrNotExist) {
				t.Skipf("no .box beside %s", yml)
			}
			storetest.MustNotErr(t, "read box", err)
			pm := p.Parse(raw)
			if pm.From.Address != strings.ToLower(want.FromEmail) {
				t.Errorf("From address %q, zammad expects %q", pm.From.Address, want.FromEmail)
			}
			if pm.From.Name != want.FromDisplayName {
				t.Errorf("From name %q, zammad expects %q", pm.From.Name, want.FromDisplayName)
			}
			// zammad keeps a trailing space the header does not really carry; compare trimmed.
			if strings.TrimSpace(pm.Subject) != strings.TrimSpace(want.Subject) {
				t.Errorf("Subject %q, zammad expects %q", pm.Subject, want.Subject)
			}
		})
	}
}
