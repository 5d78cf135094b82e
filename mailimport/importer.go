package mailimport

import (
	"context"

	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/ingest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// Batch limits: one transaction stores up to batchMessages messages or batchBytes of
// them. Large enough that the commit (an fsync) is paid rarely, small enough that a
// running serve's SMTP side, which shares SQLite's one writer, waits at most a moment.
const (
	batchMessages = 200
	batchBytes    = 8 << 20
)

// Options are one import's settings.
type Options struct {
	Kind   string // KindMbox, KindMaildir or KindEML
	Path   string
	Format MboxFormat
	// MaxBytes skips larger messages (smtp.max_message_bytes); 0: no limit.
	MaxBytes int64
	// ClosedBefore: tickets whose last message is older than this are created Closed.
	ClosedBefore time.Duration
	DryRun       bool
	// Progress is where progress goes: a bar when Terminal, else a line every few seconds.
	Progress io.Writer
	Terminal bool
	// Now is the clock for ClosedBefore (tests set it).
	Now func() time.Time
}

// Failure is a message that could not be stored: kept raw with the error.
type Failure struct {
	Source    string `json:"source"`
	InboundID int64  `json:"inbound_id,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Error     string `json:"error"`
}

// Skipped is a message the import passed over.
type Skipped struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// Summary is what an import did.
type Summary struct {
	Messages int `json:"messages"` // read from the source, skipped ones included
	// AlreadyImported were stored by an earlier run (same raw SHA-256).
	AlreadyImported int `json:"already_imported"`
	// Tickets opened, customer Replies added, Ours: the support side's messages.
	Tickets    int       `json:"tickets"`
	Replies    int       `json:"replies"`
	Ours       int       `json:"ours"`
	Duplicates int       `json:"duplicates"` // same Message-ID and sender as a stored message, or same bytes twice
	Closed     int       `json:"closed"`     // tickets closed because their last message is old
	Skipped    []Skipped `json:"skipped"`
	Failed     []Failure `json:"failed"`
	// ParseWarnings (dry run) counts messages stored with parse errors noted.
	ParseWarnings int           `json:"parse_warnings,omitempty"`
	Interrupted   bool          `json:"interrupted,omitempty"`
	DryRun        bool          `json:"dry_run,omitempty"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	// Stored is how many messages this run handed to ingest.
	Stored int `json:"stored"`
}

// Importer brings mailboxes into one database.
type Importer struct {
	st      *store.Store
	ing     *ingest.Ingester // in archive mode (ingest.NewArchive)
	tickets *ticket.Service
	log     *slog.Logger
}

// New returns an Importer. ing must come from ingest.NewArchive.
func New(st *store.Store, ing *ingest.Ingester, tickets *ticket.Service, log *slog.Logger) *Importer {
	return &Importer{st: st, ing: ing, tickets: tickets, log: log}
}

// Run imports one mailbox. It is idempotent and resumable: every message is stored in
// the same transaction as its spool row, so after an interruption (Ctrl-C, kill -9)
// the next run finds what was stored by its SHA-256 and goes on with the rest. An
// error returned leaves the stored part stored; the summary so far comes with it.
func (im *Importer) Run(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	sum := &Summary{DryRun: o.DryRun}
	defer func() { sum.Elapsed = time.Since(start) }()
	if o.Now == nil {
		o.Now = time.Now
	}
	src, err := openSource(o.Kind, o.Path, o.Format, o.MaxBytes)
	if err != nil {
		return sum, err
	}
	defer src.Close()

	bar := newProgress(o.Progress, o.Terminal, "reading", -1)
	entries, skips, err := src.index(bar.set)
	bar.done()
	if err != nil {
		return sum, err
	}
	sum.Messages = len(entries) + len(skips)
	for _, s := range skips {
		sum.Skipped = append(sum.Skipped, Skipped{s.where, s.why})
	}
	todo, err := im.pending(ctx, entries, sum)
	if err != nil {
		return sum, err
	}
	// Oldest first, so a reply finds the message it answers; equal dates keep file order.
	slices.SortStableFunc(todo, func(a, b entry) int { return a.date.Compare(b.date) })

	if o.DryRun {
		return sum, im.dryRun(ctx, src, todo, sum, o)
	}
	if err := im.st.ForBulk(ctx); err != nil {
		return sum, err
	}
	bar = newProgress(o.Progress, o.Terminal, "importing", len(todo))
	defer bar.done()
	// Reading and parsing the next batch overlaps storing this one: the box's second
	// core reads and parses while SQLite writes.
	done := make(chan struct{})
	defer close(done)
	batches := im.prepare(ctx, src, todo, done)
	for b := range batches {
		if b.err != nil {
			return sum, b.err
		}
		sum.Skipped = append(sum.Skipped, b.skipped...)
		if ctx.Err() != nil {
			sum.Interrupted = true
			return sum, nil
		}
		batch, where, i := b.msgs, b.where, b.next
		if len(batch) == 0 {
			continue
		}
		// The batch commits whole or not at all, even when Ctrl-C comes in the middle.
		res, err := im.ing.Archive(context.WithoutCancel(ctx), batch)
		if err != nil {
			return sum, fmt.Errorf("storing messages %s …: %w", where[0], err)
		}
		for j, a := range res {
			sum.Stored++
			switch a.Outcome {
			case ingest.ArchivedTicket:
				sum.Tickets++
			case ingest.ArchivedReply:
				sum.Replies++
			case ingest.ArchivedOurs:
				sum.Ours++
			case ingest.ArchivedDuplicate:
				sum.Duplicates++
			case ingest.ArchivedFailed:
				sum.Failed = append(sum.Failed, Failure{Source: where[j], InboundID: a.InboundID, MessageID: a.MessageID, Error: a.Err.Error()})
			}
		}
		bar.set(i)
	}
	bar.done()
	if ctx.Err() != nil {
		sum.Interrupted = true // the reader stopped at a batch boundary
		return sum, nil
	}
	err = im.st.Tx(context.WithoutCancel(ctx), func(tx *sqlx.Tx) error {
		ids, err := im.tickets.CloseImported(ctx, tx, o.Now().Add(-o.ClosedBefore))
		sum.Closed = len(ids)
		return err
	})
	if err != nil {
		return sum, fmt.Errorf("closing old tickets: %w", err)
	}
	return sum, nil
}

// prepared is one batch, read and parsed.
type prepared struct {
	msgs    []ingest.ArchiveMessage
	where   []string
	skipped []Skipped
	next    int // index in todo after the batch
	err     error
}

// prepare reads and parses todo in batches on its own goroutine, one batch ahead of
// the caller, until done is closed.
func (im *Importer) prepare(ctx context.Context, src *source, todo []entry, done <-chan struct{}) <-chan prepared {
	out := make(chan prepared, 1)
	p := ingest.NewParser()
	go func() {
		defer close(out)
		for i := 0; i < len(todo) && ctx.Err() == nil; {
			var b prepared
			size := 0
			for ; i < len(todo) && len(b.msgs) < batchMessages && size < batchBytes; i++ {
				e := &todo[i]
				raw, why, err := src.read(e)
				if err != nil {
					b.err = err
					break
				}
				if why != "" {
					b.skipped = append(b.skipped, Skipped{src.where(e), why})
					continue
				}
				size += len(raw)
				b.msgs = append(b.msgs, ingest.ArchiveMessage{Raw: raw, Date: e.date, Source: src.where(e), Retry: e.retry, Parsed: p.Parse(raw)})
				b.where = append(b.where, src.where(e))
			}
			b.next = i
			select {
			case out <- b:
			case <-done:
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	return out
}

// pending drops the entries an earlier run stored, and copies of one message within
// the source; it marks those an earlier run failed on for a retry.
func (im *Importer) pending(ctx context.Context, entries []entry, sum *Summary) ([]entry, error) {
	sums := make([]string, 0, len(entries))
	for _, e := range entries {
		sums = append(sums, e.sum)
	}
	known, err := store.KnownRaw(ctx, im.st.DB, sums)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(entries))
	var todo []entry
	for _, e := range entries {
		switch {
		case seen[e.sum]:
			sum.Duplicates++
			continue
		case known[e.sum] == store.InboundImportFailed:
			e.retry = true
		case known[e.sum] != "":
			sum.AlreadyImported++
			continue
		}
		seen[e.sum] = true
		todo = append(todo, e)
	}
	return todo, nil
}

// dryRun parses what a real run would store, and stores nothing. Which messages open
// tickets depends on what is stored before them, so it counts messages, not tickets.
func (im *Importer) dryRun(ctx context.Context, src *source, todo []entry, sum *Summary, o Options) error {
	p := ingest.NewParser()
	bar := newProgress(o.Progress, o.Terminal, "parsing", len(todo))
	defer bar.done()
	for i := range todo {
		if ctx.Err() != nil {
			sum.Interrupted = true
			return nil
		}
		raw, why, err := src.read(&todo[i])
		if err != nil {
			return err
		}
		if why != "" {
			sum.Skipped = append(sum.Skipped, Skipped{src.where(&todo[i]), why})
			continue
		}
		if pm := p.Parse(raw); len(pm.Errors) > 0 {
			sum.ParseWarnings++
		}
		sum.Stored++
		bar.set(i + 1)
	}
	return nil
}
