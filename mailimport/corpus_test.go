package mailimport

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// The shared corpus of real-world mail lives beside the repository, never in it.
var corpusDir = filepath.Join("..", "..", "shared", "corpus")

// corpusMessages returns the corpus's messages (INDEX.csv kind "message"), skipping the
// test when the corpus is absent, except under CI=true.
func corpusMessages(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "INDEX.csv"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the mail corpus is missing (%v): expected it at %s", err, corpusDir)
		}
		t.Skipf("mail corpus not found at %s (%v); skipping", corpusDir, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	var out [][]byte
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec[col["kind"]] != "message" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(corpusDir, rec[col["source"]], filepath.FromSlash(rec[col["path"]])))
		if err != nil {
			t.Fatal(err)
		}
		// An mbox separator some files begin with is not part of the message.
		raw = stripSeparator(raw)
		if !bytes.HasSuffix(raw, []byte("\n")) {
			raw = append(raw, '\n')
		}
		out = append(out, raw)
	}
	return out
}

// ticketsByRaw maps each ticket to the sorted SHA-256 sums of its messages' raw mail:
// the tickets' shape, independent of ids.
func ticketsByRaw(t *testing.T, st *store.Store) []string {
	var rows []struct {
		Ticket int64  `db:"ticket_id"`
		Sum    string `db:"raw_sha256"`
	}
	storetest.MustNotErr(t, "read tickets", st.DB.Select(&rows, "SELECT ticket_id, raw_sha256 FROM messages WHERE raw_sha256 IS NOT NULL ORDER BY ticket_id, raw_sha256"))
	byTicket := map[int64][]string{}
	for _, r := range rows {
		byTicket[r.Ticket] = append(byTicket[r.Ticket], r.Sum[:12])
	}
	var out []string
	for _, sums := range byTicket {
		out = append(out, strings.Join(sums, "+"))
	}
	slices.Sort(out)
	return out
}

// TestCorpusImportsLikeSMTP imports the corpus as one mbox: no message fails, and the
// tickets are the ones the same messages make when they arrive as spool rows one by one,
// in the same order, the way SMTP hands them to ingest.
func TestCorpusImportsLikeSMTP(t *testing.T) {
	msgs := corpusMessages(t)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		mbox := filepath.Join(t.TempDir(), "corpus.mbox")
		f, err := os.Create(mbox)
		if err != nil {
			t.Fatal(err)
		}
		writeMboxrd(f, msgs)
		f.Close()
		sum, err := newTestImporter(t, st).Run(ctx, Options{Kind: KindMbox, Path: mbox, MaxBytes: 25 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range sum.Failed {
			t.Errorf("failed: %s: %s", fl.Source, fl.Error)
		}
		if sum.Tickets+sum.Replies+sum.Ours+sum.Duplicates != sum.Messages || len(sum.Skipped) != 0 {
			t.Errorf("summary %+v: every message must open a ticket, join one, or be named a duplicate", sum)
		}
		t.Logf("corpus: %d messages, %d tickets, %d replies, %d duplicates", sum.Messages, sum.Tickets, sum.Replies, sum.Duplicates)

		// The same messages, in the import's order, through the live path.
		src, err := openSource(KindMbox, mbox, Mboxrd, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		entries, _, err := src.index(nil)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(entries, func(a, b entry) int { return a.date.Compare(b.date) })
		live := storetest.Open(t, storetest.Dialects(t)[st.Dialect](t))
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		signer := threading.NewSigner(bytes.Repeat([]byte{1}, 32))
		router := ingest.NewRouter([]config.Mailbox{{Address: "support@example.com", Team: "Support"}}, signer)
		composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Support <support@example.com>"})
		storetest.MustNotErr(t, "composer", err)
		tickets := ticket.New(live, ticket.Config{Composer: composer, Signer: signer}, log)
		ing := ingest.New(live, ingest.Config{Resolve: router.Resolve, Own: router.Own, Tickets: tickets}, log)
		seen := map[string]bool{}
		for i := range entries {
			raw, _, err := src.read(&entries[i])
			if err != nil {
				t.Fatal(err)
			}
			if seen[entries[i].sum] {
				continue // the import drops a second copy of the same bytes before ingest
			}
			seen[entries[i].sum] = true
			from := ""
			if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
				if a, err := mail.ParseAddress(m.Header.Get("Return-Path")); err == nil {
					from = a.Address
				} else if a, err := mail.ParseAddress(m.Header.Get("From")); err == nil {
					from = a.Address
				}
			}
			in := &store.Inbound{ReceivedAt: entries[i].date, RemoteAddr: "127.0.0.1", MailFrom: from, Rcpt: []string{"support@example.com"}, Raw: raw}
			storetest.MustNotErr(t, "spool", live.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
			storetest.MustNotErr(t, "ingest", ing.Process(ctx, in.ID))
		}
		got, want := ticketsByRaw(t, st), ticketsByRaw(t, live)
		if !slices.Equal(got, want) {
			t.Errorf("imported: %d tickets; over the spool: %d; they differ", len(got), len(want))
			for _, g := range got {
				if !slices.Contains(want, g) {
					t.Logf("only imported: %s", g)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Logf("only over the spool: %s", w)
				}
			}
		}
	})
}
