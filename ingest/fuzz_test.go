package ingest

import (
	"bytes"
	"context"
	"flag"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// fuzzSeeds returns the corpus messages: all of them under -fuzz, every 25th in a plain
// `go test` run (the seeds run as ordinary tests there, and corpus_test covers the rest).
func fuzzSeeds(f *testing.F) [][]byte {
	dir := filepath.Join("..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		f.Logf("no corpus at %s: fuzzing from the built-in seeds only", dir)
		return nil
	}
	fuzzing := false
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		fuzzing = true
	}
	var out [][]byte
	n := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		base := d.Name()
		if strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".csv") || strings.HasSuffix(base, ".md") ||
			strings.HasSuffix(base, ".yml") || strings.HasPrefix(base, "LICENSE") {
			return nil
		}
		n++
		if !fuzzing && n%25 != 0 {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && len(b) < 1<<20 {
			out = append(out, b)
		}
		return nil
	})
	return out
}

// FuzzIngest feeds arbitrary bytes through the whole ingest path on a real SQLite
// database: no panic, no hang, and the raw message kept byte for byte whatever happens
// to the parse (guarantee 7).
//
//	go test ./ingest -run '^$' -fuzz FuzzIngest -fuzztime 60s
func FuzzIngest(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{
		"",
		"\r\n\r\n",
		"From: a@b\r\n\r\nbody",
		"From: \x00\xff@\x01\r\nSubject: =?utf-8?B?////?=\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x--",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + strings.Repeat("x", 5000) + ">\r\n--b--",
		"From: alice@example.org\r\nSubject: [#1] [#99999999999999999999]\r\nIn-Reply-To: " + strings.Repeat("<a@b> ", 2000) + "\r\n\r\nx",
		"From: a@b\nSubject: bare LF\n\n" + strings.Repeat("line\n", 1000),
		"From: a@b\rSubject: bare CR\r\rbody\r",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		f.Fatal(err)
	}
	signer := threading.NewSigner([]byte("fuzz secret, at least 32 bytes!!"))
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Support <support@example.com>"})
	if err != nil {
		f.Fatal(err)
	}
	router := NewRouter([]config.Mailbox{{Address: "support@example.com", Team: "Support"}}, signer)
	g := newTestIngester(st, Config{Resolve: router.Resolve, Own: router.Own}, ticket.Config{Signer: signer, Composer: composer},
		slog.New(slog.NewTextHandler(io.Discard, nil)))

	f.Fuzz(func(t *testing.T, raw []byte) {
		ctx := context.Background()
		in := &store.Inbound{RemoteAddr: "192.0.2.1:25", Helo: "fuzz", MailFrom: "fuzz@example.org",
			Rcpt: []string{"support@example.com"}, Raw: raw}
		storetest.MustNotErr(t, "spool", st.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
		done := make(chan error, 1)
		go func() { done <- g.Process(ctx, in.ID) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ingest failed: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("ingest did not finish in 20s")
		}
		back, err := store.GetInbound(ctx, st.DB, in.ID)
		storetest.MustNotErr(t, "read back", err)
		if back.Status != store.InboundDone && back.Status != store.InboundDuplicate {
			t.Errorf("spool row is %s (%s)", back.Status, back.Error)
		}
		if !bytes.Equal(back.Raw, raw) {
			t.Error("the raw message was not kept byte for byte")
		}
	})
}
