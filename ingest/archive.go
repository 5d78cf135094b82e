package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// Archive mode stores the messages of an old mailbox (`mxdesk import`) through the same
// parse, classify, dedupe and threading as mail over SMTP, with four differences
// (docs/import.md):
//   - the time of everything is the message's own date, not now;
//   - nothing is sent: no acknowledgement, no mail to the agents; and no SLA clock
//     starts (its deadlines would have passed years ago);
//   - mail from one of the mailbox addresses or from an agent is the support side of
//     the conversation: stored as outgoing on the ticket its In-Reply-To/References
//     name (or on a new ticket for its first recipient), and its Message-ID then
//     threads the customer's answer as strongly as one mxdesk generated;
//   - recipients come from the headers (Delivered-To, X-Original-To, To, Cc): the first
//     that is a configured mailbox routes the message, else the import's mailbox.

// ArchiveMessage is one message of an imported mailbox.
type ArchiveMessage struct {
	Raw []byte
	// Date is when it arrived back then: its Date header, else the mbox separator's or
	// the file's time.
	Date time.Time
	// Source says where it came from (FILE@OFFSET, or a file), kept on its spool row.
	Source string
	// Retry: an earlier import could not store it; that row is replaced.
	Retry bool
	// Parsed is Raw parsed (NewParser), when the caller parsed it ahead; nil: Archive
	// parses it.
	Parsed *Parsed
}

// Archive outcomes.
const (
	ArchivedTicket    = "ticket"    // a customer's message that opened a ticket
	ArchivedReply     = "reply"     // a customer's message added to a ticket
	ArchivedOurs      = "ours"      // the support side's message (a mailbox address or an agent)
	ArchivedDuplicate = "duplicate" // the same message (Message-ID and sender) is stored already
	ArchivedFailed    = "failed"    // kept raw with the error (store.InboundImportFailed)
)

// Archived is what archiving one message did.
type Archived struct {
	Outcome   string
	InboundID int64
	Tickets   []int64
	MessageID string
	Err       error
}

type archiveMode struct {
	mailbox string
	// agents are the agents' addresses, read once per batch: asked for every message.
	agents map[string]bool
}

// NewArchive returns an Ingester in archive mode. mailbox receives the messages whose
// headers name no configured mailbox; it must be one.
func NewArchive(st *store.Store, cfg Config, mailbox string, log *slog.Logger) (*Ingester, error) {
	if _, ok := cfg.Resolve(mailbox); !ok {
		return nil, fmt.Errorf("mailbox %q is not one of the configured [[mailboxes]]", mailbox)
	}
	g := New(st, cfg, log)
	g.archive = &archiveMode{mailbox: mailbox}
	return g, nil
}

// Archive stores a batch of messages in one transaction, in the order given (oldest
// first, so replies find their parents). A message that fails is rolled back alone and
// kept raw with its error; an error returned means the batch was not stored at all.
// An Ingester in archive mode is for one goroutine.
func (g *Ingester) Archive(ctx context.Context, msgs []ArchiveMessage) ([]Archived, error) {
	if g.archive == nil {
		return nil, errors.New("ingest: Archive needs an ingester from NewArchive")
	}
	parsed := make([]*Parsed, len(msgs)) // outside the transaction: SQLite has one writer
	for i, m := range msgs {
		if parsed[i] = m.Parsed; parsed[i] == nil {
			parsed[i] = g.parser.Parse(m.Raw)
		}
	}
	for _, rt := range g.routes(g.archiveRcpts(nil)) {
		if err := g.loadTeam(ctx, rt.Team); err != nil {
			return nil, err
		}
	}
	agents, err := g.st.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	g.archive.agents = make(map[string]bool, len(agents))
	for _, a := range agents {
		g.archive.agents[strings.ToLower(a.Email)] = true
	}
	// First the whole batch without savepoints (three statements less per message);
	// if any message fails, once more with each in its own savepoint, so that only the
	// failing one is left out.
	out := make([]Archived, len(msgs))
	err = g.st.Tx(ctx, func(tx *sqlx.Tx) error {
		// The batch's history rows are written at its end, in one statement; the
		// savepoint pass below writes each message's at once, so a message undone
		// takes its history with it.
		ctx, batch := store.WithBatch(ctx)
		for i := range msgs {
			a, err := g.archiveApply(ctx, tx, &msgs[i], g.archiveInbound(&msgs[i], parsed[i]), parsed[i])
			if err != nil {
				return err
			}
			out[i] = a
		}
		return g.tickets.FlushBatch(ctx, tx, batch)
	})
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	err = g.st.Tx(ctx, func(tx *sqlx.Tx) error {
		for i := range msgs {
			a, err := g.archiveOne(ctx, tx, &msgs[i], parsed[i])
			if err != nil {
				return err
			}
			out[i] = a
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// archiveOne stores one message inside a savepoint, so its failure undoes only its own
// writes; the failure is then kept as a spool row with the error.
func (g *Ingester) archiveOne(ctx context.Context, tx *sqlx.Tx, m *ArchiveMessage, pm *Parsed) (Archived, error) {
	in := g.archiveInbound(m, pm)
	var a Archived
	err, serr := store.Savepoint(ctx, tx, func() error {
		var err error
		a, err = g.archiveApply(ctx, tx, m, in, pm)
		return err
	})
	if serr != nil {
		return Archived{}, serr
	}
	if err == nil {
		return a, nil
	}
	if ctx.Err() != nil {
		return Archived{}, ctx.Err()
	}
	in = g.archiveInbound(m, pm)
	if m.Retry {
		if err := store.DeleteImportFailed(ctx, tx, store.SHA256(m.Raw)); err != nil {
			return Archived{}, err
		}
	}
	if ierr := store.InsertInbound(ctx, tx, in); ierr != nil {
		return Archived{}, ierr
	}
	if ferr := store.FailImport(ctx, tx, in.ID, err); ferr != nil {
		return Archived{}, ferr
	}
	g.log.Warn("import: message kept with its error", "inbound_id", in.ID, "message_id", pm.MessageID, "source", m.Source, "err", err)
	return Archived{Outcome: ArchivedFailed, InboundID: in.ID, MessageID: pm.MessageID, Err: err}, nil
}

// archiveInbound is the spool row an imported message gets.
func (g *Ingester) archiveInbound(m *ArchiveMessage, pm *Parsed) *store.Inbound {
	// The envelope sender: Return-Path as the receiving server wrote it ("<>" for a
	// bounce), else the From address.
	mailFrom := pm.From.Address
	if pm.Header != nil {
		if rp := strings.TrimSpace(pm.Header("Return-Path")); rp != "" {
			mailFrom = strings.ToLower(strings.Trim(rp, "<> "))
		}
	}
	return &store.Inbound{
		ReceivedAt: m.Date.UTC().Truncate(time.Microsecond), RemoteAddr: store.ImportRemoteAddr, Helo: m.Source,
		MailFrom: mailFrom, Rcpt: g.archiveRcpts(pm), Raw: m.Raw,
	}
}

// archiveRcpts are the configured mailboxes the headers name, or the import's mailbox.
func (g *Ingester) archiveRcpts(pm *Parsed) []string {
	var out []string
	if pm != nil && pm.Header != nil {
		var cands []string
		for _, h := range []string{"Delivered-To", "X-Original-To"} {
			if v := strings.Trim(strings.TrimSpace(pm.Header(h)), "<>"); v != "" {
				cands = append(cands, v)
			}
		}
		for _, a := range slices.Concat(pm.To, pm.Cc) {
			cands = append(cands, a.Address)
		}
		for _, c := range cands {
			if _, ok := g.cfg.Resolve(c); ok && !slices.Contains(out, strings.ToLower(c)) {
				out = append(out, strings.ToLower(c))
			}
		}
	}
	if len(out) == 0 {
		out = []string{g.archive.mailbox}
	}
	return out
}

func (g *Ingester) archiveApply(ctx context.Context, tx *sqlx.Tx, m *ArchiveMessage, in *store.Inbound, pm *Parsed) (Archived, error) {
	if m.Retry {
		if err := store.DeleteImportFailed(ctx, tx, store.SHA256(m.Raw)); err != nil {
			return Archived{}, err
		}
	}
	if err := store.InsertInbound(ctx, tx, in); err != nil {
		return Archived{}, err
	}
	g.now = func() time.Time { return in.ReceivedAt }
	class := Classify(in.MailFrom, pm, g.cfg.Own)
	sender := senderOf(in, pm)
	ours, err := g.isOurs(ctx, tx, sender)
	if err != nil {
		return Archived{}, err
	}
	var res Result
	outcome := ""
	if ours {
		ok, err := g.archiveOurs(ctx, tx, in, pm, class, sender, &res)
		if err != nil {
			return Archived{}, err
		}
		if ok {
			outcome = ArchivedOurs
		}
	}
	if outcome == "" {
		if err := g.apply(ctx, tx, in, pm, class, &res); err != nil {
			return Archived{}, err
		}
		outcome = ArchivedReply
		if len(res.Created) > 0 {
			outcome = ArchivedTicket
		}
	}
	if res.Status == store.InboundDuplicate {
		outcome = ArchivedDuplicate
	}
	if err := store.FinishInbound(ctx, tx, in.ID, res.Status); err != nil {
		return Archived{}, err
	}
	return Archived{Outcome: outcome, InboundID: in.ID, Tickets: res.Tickets, MessageID: pm.MessageID}, nil
}

// isOurs reports whether mail from sender is the support side's: a mailbox address or
// an agent.
func (g *Ingester) isOurs(ctx context.Context, tx *sqlx.Tx, sender string) (bool, error) {
	if g.cfg.Own != nil && g.cfg.Own(sender) {
		return true, nil
	}
	return g.archive.agents[strings.ToLower(sender)], nil
}

// archiveOurs stores the support side's message on the ticket it answers, or on a new
// ticket for its first recipient outside the support side. It reports false when it
// found neither (a mail among agents only), which is then stored like a customer's.
func (g *Ingester) archiveOurs(ctx context.Context, tx *sqlx.Tx, in *store.Inbound, pm *Parsed, class Class, sender string, res *Result) (bool, error) {
	rt := g.routes(in.Rcpt)[0]
	if pm.MessageID != "" {
		dup, err := store.OurMessage(ctx, tx, pm.MessageID, sender)
		if err != nil {
			return false, err
		}
		if dup != 0 {
			res.Duplicate, res.Tickets, res.Status = true, []int64{dup}, store.InboundDuplicate
			return true, nil
		}
	}
	var ticketID int64
	for _, id := range slices.Concat(pm.InReplyTo, pm.References) {
		refs, err := store.FindMessageID(ctx, tx, id)
		if err != nil {
			return false, err
		}
		if len(refs) > 0 {
			ticketID = refs[0].TicketID
			break
		}
	}
	var customer ticket.Person
	if ticketID == 0 {
		for _, a := range slices.Concat(pm.To, pm.Cc) {
			ours, err := g.isOurs(ctx, tx, strings.ToLower(a.Address))
			if err != nil {
				return false, err
			}
			if !ours && a.Address != "" {
				customer = ticket.Person{Email: strings.ToLower(a.Address), Name: a.Name}
				break
			}
		}
		if customer.Email == "" {
			return false, nil
		}
	}
	teamID, err := g.teamID(ctx, tx, rt.Team)
	if err != nil {
		return false, err
	}
	msg := incoming(in, pm, class, sender)
	msg.At, msg.Archive = in.ReceivedAt, true
	id, msgID, err := g.tickets.AddImportedOurs(ctx, tx, ticketID, customer, ticket.NewTicket{
		Subject: pm.Subject, Priority: rt.Priority, TeamID: teamID, Mailbox: rt.Mailbox, Source: ticket.SourceImport, Message: msg})
	if err != nil {
		return false, err
	}
	if ticketID == 0 {
		res.Created = append(res.Created, id)
	}
	res.Tickets, res.Messages, res.Status = append(res.Tickets, id), append(res.Messages, msgID), store.InboundDone
	return true, nil
}
