package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Batch is one ingest transaction's memory, carried in its context (WithBatch). A
// transaction that turns thirty-two mails into tickets asks the same questions thirty-two
// times (the team's agents, whether the knowledge base has articles, the sender's
// contact row) and writes a history row for each: on PostgreSQL every one of those is a
// round trip. With a Batch the answers are read once and the history rows are written in
// one statement when the transaction ends (Flush).
//
// Deferred are events (history, read by the CLI, the API and the portal in their own
// transactions) and outbox rows (QueueOutbox), whose loop-guard decision is taken for
// the whole batch at its end (ticket.Service.FlushBatch); the few reads of the outbox a
// transaction makes (ThreadIDs, CountOutboxTo, FindMessageID) see the deferred rows too.
// What is remembered cannot change under the transaction in a way that matters: an
// agent added while a batch of 25 ms runs gets the next ticket's mail.
type Batch struct {
	agents   map[int64][]Agent
	kb       *bool
	contacts map[string]Recipient
	events   []pendingEvent
	outbox   []*Outbox
	beside   []chan error // Beside's work, in flight until TakeOutbox
}

type pendingEvent struct {
	ticketID          int64
	kind, actor, data string
	at                time.Time
}

type batchKey struct{}

// WithBatch returns a context whose store calls share one Batch, and the Batch, whose
// Flush the transaction must call before it commits.
func WithBatch(ctx context.Context) (context.Context, *Batch) {
	b := &Batch{agents: map[int64][]Agent{}, contacts: map[string]Recipient{}}
	return context.WithValue(ctx, batchKey{}, b), b
}

func batchOf(ctx context.Context) *Batch {
	b, _ := ctx.Value(batchKey{}).(*Batch)
	return b
}

// BatchOf returns the Batch ctx carries, or nil.
func BatchOf(ctx context.Context) *Batch { return batchOf(ctx) }

// QueueOutbox defers an outbox row to the end of the batch. Its status is decided
// there (TakeOutbox), so it is left as the caller made it.
func (b *Batch) QueueOutbox(o *Outbox) {
	o.CreatedAt = now()
	b.outbox = append(b.outbox, o)
}

// Beside runs fn on a goroutine of its own while the transaction goes on: work that
// needs no database and whose result only the batch's end reads, such as composing a
// queued row's mail, which on SQLite's one writer was a large share of ingest's time
// while the second core idled. TakeOutbox waits for it; a transaction that fails before
// leaves it to finish and be dropped.
func (b *Batch) Beside(fn func() error) {
	done := make(chan error, 1)
	b.beside = append(b.beside, done)
	go func() { done <- fn() }()
}

// TakeOutbox waits for the work begun Beside, then returns the deferred outbox rows, in
// the order they were queued, and forgets them: the caller writes them
// (InsertOutboxRows). The error is the first of that work's.
func (b *Batch) TakeOutbox() ([]*Outbox, error) {
	var first error
	for _, done := range b.beside {
		if err := <-done; err != nil && first == nil {
			first = err
		}
	}
	b.beside = nil
	rows := b.outbox
	b.outbox = nil
	return rows, first
}

// eventsPerStatement bounds one multi-row INSERT (5 parameters a row; SQLite allows
// 32,766 parameters, PostgreSQL 65,535).
const eventsPerStatement = 1000

// Flush writes the deferred history rows, in the order they were recorded.
func (b *Batch) Flush(ctx context.Context, q sqlx.ExtContext) error {
	for len(b.events) > 0 {
		n := min(len(b.events), eventsPerStatement)
		rows := b.events[:n]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO events (ticket_id, kind, actor, data, created_at) VALUES `)
		args := make([]any, 0, 5*n)
		for i, e := range rows {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, e.ticketID, e.kind, e.actor, e.data, e.at)
		}
		if _, err := q.ExecContext(ctx, q.Rebind(sb.String()), args...); err != nil {
			return fmt.Errorf("events of the batch: %w", err)
		}
		b.events = b.events[n:]
	}
	return nil
}
