package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// Route says where a recipient address leads: a team's mailbox, and for a signed reply
// address, the ticket.
type Route struct {
	Mailbox  string // the mailbox address, without subaddress
	Team     string
	TicketID int64 // from a valid reply token; 0 for the plain mailbox
	// Priority of the tickets the mailbox opens; empty is medium.
	Priority string
	// Agent is set for the agents' reply address of TicketID: what arrives there is an
	// agent's answer, relayed to the customer only if the sender is that agent.
	Agent bool
}

// Config is what the Ingester needs from the rest of mxdesk.
type Config struct {
	// Resolve maps an envelope recipient to its route; ok is false for addresses we do
	// not serve (smtpd refused them already, but the spool may be older than the config).
	Resolve func(rcpt string) (Route, bool)
	// Own reports whether an address is one of our mailboxes (mail from it is never answered).
	Own func(addr string) bool
	// Signer makes reply tokens for the acknowledgement's Reply-To.
	Signer *threading.Signer
	// Composer builds the acknowledgement.
	Composer *outbound.Composer
	// MaxAutoPerHour caps automatic mails to one address per hour (loop guard).
	MaxAutoPerHour int
	// Tickets queues the notifications of ticket changes. When nil, one is built from
	// Composer, Signer and MaxAutoPerHour (without signed links).
	Tickets *ticket.Service
	// ReopenWindow is how long after closing a reply reopens a ticket; a later reply
	// opens a new ticket linked to the old one. Zero: always reopen.
	ReopenWindow time.Duration
	// TrustedDomains are sender domains whose unauthenticated mail counts as authenticated.
	TrustedDomains []string
	// OnOutbox is called after a transaction that queued mail (the outbound worker wakes).
	OnOutbox func()
}

// Ingester processes spool rows.
type Ingester struct {
	st      *store.Store
	cfg     Config
	log     *slog.Logger
	parser  *Parser
	tickets *ticket.Service
	wake    chan struct{}
	now     func() time.Time
	handed  handover
	teams   sync.Map // team name -> id (teamID)
	load    SMTPLoad
	// burstLag bounds how long ingest holds back during a burst (YieldTo).
	burstLag time.Duration
	// oldestID is the oldest spool row waiting for ingest (0 when it has caught up),
	// oldestAt when it arrived (Unix ns); heldBack counts holdBack's waits since ingest
	// last caught up.
	oldestID atomic.Int64
	oldestAt atomic.Int64
	heldBack atomic.Int64
	// archive is set by NewArchive: old mail is stored, nothing sent (archive.go).
	archive *archiveMode
}

// New returns an Ingester.
func New(st *store.Store, cfg Config, log *slog.Logger) *Ingester {
	if cfg.MaxAutoPerHour <= 0 {
		cfg.MaxAutoPerHour = 10
	}
	tickets := cfg.Tickets
	if tickets == nil {
		tickets = ticket.New(st, ticket.Config{Composer: cfg.Composer, Signer: cfg.Signer, MaxAutoPerHour: cfg.MaxAutoPerHour}, log)
	}
	return &Ingester{st: st, cfg: cfg, log: log, parser: NewParser(), tickets: tickets, wake: make(chan struct{}, 1), now: store.Now}
}

// Result is what processing one spool row did, for logs and tests.
type Result struct {
	Tickets   []int64
	Messages  []int64
	Created   []int64
	Duplicate bool
	// Status is what the spool row becomes: done, or duplicate when every copy was.
	Status string
}

// routes groups the recipients: a reply address leads to its ticket, plain mailboxes to
// their team; one team gets the message once even when it was sent to a reply address
// and to support@ (reply-all), and two teams get one ticket each.
func (g *Ingester) routes(rcpts []string) []Route {
	var tickets, teams []Route
	for _, r := range rcpts {
		rt, ok := g.cfg.Resolve(r)
		if !ok {
			continue
		}
		if rt.TicketID != 0 {
			tickets = append(tickets, rt)
		} else {
			teams = append(teams, rt)
		}
	}
	var out []Route
	seenTicket := map[int64]bool{}
	for _, rt := range tickets {
		if !seenTicket[rt.TicketID] {
			seenTicket[rt.TicketID] = true
			out = append(out, rt)
		}
	}
	seenTeam := map[string]bool{}
	for _, rt := range tickets {
		seenTeam[rt.Team] = true
	}
	for _, rt := range teams {
		if !seenTeam[rt.Team] {
			seenTeam[rt.Team] = true
			out = append(out, rt)
		}
	}
	return out
}

var errNoRoute = errors.New("no recipient is a mailbox of this configuration")

// senderOf is the address a message is from, for participants and deduplication.
func senderOf(in *store.Inbound, pm *Parsed) string {
	sender := pm.From.Address
	if sender == "" {
		sender = strings.ToLower(in.MailFrom)
	}
	if sender == "" {
		sender = "unknown@invalid"
	}
	return sender
}

// lockCopies serializes, across transactions, the ingest of copies of one message (same
// Message-ID and sender): an MTA that timed out waiting for one replica's 250 retries
// at another, and without it both replicas' transactions could find no earlier copy and
// both store theirs. On PostgreSQL the locks are taken in one statement, in key order, so
// two batches never wait on each other crosswise; SQLite has one writer anyway.
func (g *Ingester) lockCopies(ctx context.Context, tx *sqlx.Tx, items []*item) error {
	if g.st.Dialect != store.Postgres {
		return nil
	}
	var keys []int64
	for _, it := range items {
		if it.pm != nil && it.pm.MessageID != "" {
			keys = append(keys, store.CopyKey(it.pm.MessageID, senderOf(it.in, it.pm)))
		}
	}
	return store.LockCopies(ctx, tx, keys)
}

func (g *Ingester) apply(ctx context.Context, tx *sqlx.Tx, in *store.Inbound, pm *Parsed, class Class, res *Result) (queued bool, err error) {
	routes := g.routes(in.Rcpt)
	if len(routes) == 0 {
		return false, errNoRoute
	}
	sender := senderOf(in, pm)
	lookup := txLookup{tx}
	t := g.now()
	bounced, err := bounceRefs(ctx, tx, in, pm, class)
	if err != nil {
		return false, err
	}
	quarantine := quarantineFlag(in)
	for _, rt := range routes {
		if rt.TicketID != 0 {
			// A valid token for a ticket this database does not have (restored from an
			// older backup, or another instance with the same secret): the mail is still
			// for this mailbox, so it opens a ticket instead of failing forever.
			ok, err := store.TicketExists(ctx, tx, rt.TicketID)
			if err != nil {
				return false, err
			}
			if !ok {
				g.log.Warn("ingest: reply address names a ticket that does not exist; opening a new one", "ticket", rt.TicketID, "inbound_id", in.ID)
				rt.TicketID, rt.Agent = 0, false
			}
		}
		teamID, err := g.teamID(ctx, tx, rt.Team)
		if err != nil {
			return false, err
		}
		if pm.MessageID != "" {
			dup, err := duplicateIn(ctx, tx, pm.MessageID, sender, teamID, rt.TicketID)
			if err != nil {
				return false, err
			}
			if dup != 0 {
				res.Duplicate = true
				res.Tickets = append(res.Tickets, dup)
				continue
			}
		}
		if rt.Agent {
			q, err := g.agentMail(ctx, tx, rt, in, pm, class, sender, res)
			if err != nil {
				return false, err
			}
			queued = queued || q
			continue
		}
		dec, err := threading.Decide(ctx, threading.Input{
			TokenTicket:   rt.TicketID,
			InReplyTo:     pm.InReplyTo,
			References:    slices.Concat(bounced, pm.References),
			Subject:       pm.Subject,
			Sender:        sender,
			Authenticated: g.authenticated(in, sender),
		}, lookup)
		if err != nil {
			return false, err
		}
		contactID, err := store.UpsertContact(ctx, tx, sender, pm.From.Name)
		if err != nil {
			return false, err
		}
		if dec.TicketID != 0 && !class.Automatic {
			// A reply long after the ticket was closed is a new matter: a new ticket,
			// linked to the old one, instead of waking a conversation everyone forgot.
			old, err := store.GetTicket(ctx, tx, dec.TicketID)
			if err != nil {
				return false, err
			}
			if old.Status == ticket.StatusClosed && old.ClosedAt != nil && g.cfg.ReopenWindow > 0 && t.Sub(*old.ClosedAt) > g.cfg.ReopenWindow {
				dec = threading.Decision{Reason: "closed-long-ago", Pointed: old.ID}
			}
		}
		ticketID := dec.TicketID
		created := ticketID == 0
		if dec.Flag == "" {
			dec.Flag = quarantine
		}
		if created {
			tk := &store.Ticket{
				Subject: threading.StripSubjectTag(pm.Subject), Status: "open", Priority: cmp.Or(rt.Priority, "medium"),
				TeamID: teamID, ContactID: contactID, Mailbox: rt.Mailbox,
				Flagged: dec.Flag != "", FlagReason: dec.Flag, CreatedAt: t, UpdatedAt: t,
			}
			if dec.Pointed != 0 {
				tk.LinkedTicketID = &dec.Pointed
			}
			if g.archive == nil {
				g.tickets.StartSLA(tk) // response_by, resolution_by, outside_hours
			}
			if err := store.InsertTicket(ctx, tx, tk); err != nil {
				return false, err
			}
			ticketID = tk.ID
			if err := store.AddParticipant(ctx, tx, ticketID, contactID, "contact"); err != nil {
				return false, err
			}
		}
		msgID, err := g.storeMessage(ctx, tx, ticketID, in, pm, class, sender, t)
		if err != nil {
			return false, err
		}
		res.Tickets = append(res.Tickets, ticketID)
		res.Messages = append(res.Messages, msgID)
		if g.archive == nil {
			q, err := g.afterCustomerMessage(ctx, tx, ticketID, created, class, sender, pm)
			if err != nil {
				return false, err
			}
			queued = queued || q
		}
		if created {
			res.Created = append(res.Created, ticketID)
			data, _ := json.Marshal(map[string]any{"message": msgID, "reason": dec.Reason, "flag": dec.Flag, "automatic": class.Why})
			if err := store.InsertEvent(ctx, tx, ticketID, "created", sender, string(data)); err != nil {
				return false, err
			}
			if g.archive != nil {
				continue // old mail: nobody is acknowledged
			}
			if quarantine != "" {
				// The From is likely forged: an acknowledgement would be backscatter.
				if err := store.InsertEvent(ctx, tx, ticketID, "ack_suppressed", "", jsonObj("why", quarantine)); err != nil {
					return false, err
				}
				continue
			}
			q, err := g.acknowledge(ctx, tx, ticketID, rt, pm, class, sender)
			if err != nil {
				return false, err
			}
			queued = queued || q
		} else {
			if quarantine != "" {
				if err := store.FlagTicket(ctx, tx, ticketID, quarantine); err != nil {
					return false, err
				}
			}
			data, _ := json.Marshal(map[string]any{"message": msgID, "reason": dec.Reason, "automatic": class.Why})
			if err := store.InsertEvent(ctx, tx, ticketID, "customer_replied", sender, string(data)); err != nil {
				return false, err
			}
			if err := store.TouchTicket(ctx, tx, ticketID, t); err != nil {
				return false, err
			}
		}
	}
	res.Status = store.InboundDone
	if res.Duplicate && len(res.Messages) == 0 {
		res.Status = store.InboundDuplicate
	}
	return queued, nil
}

// storeMessage writes the message row and its attachments.
func (g *Ingester) storeMessage(ctx context.Context, tx *sqlx.Tx, ticketID int64, in *store.Inbound, pm *Parsed, class Class, sender string, t time.Time) (int64, error) {
	kind := "customer"
	if class.Bounce {
		kind = "bounce"
	} else if class.Automatic {
		kind = "auto"
	}
	raw := in.RawSHA256
	inboundID := in.ID
	m := &store.Message{
		TicketID: ticketID, InboundID: &inboundID, Direction: "in", Kind: kind,
		FromAddr: sender, FromName: pm.From.Name,
		ToJSON: addrJSON(pm.To), CcJSON: addrJSON(pm.Cc),
		MessageID: pm.MessageID, InReplyTo: strings.Join(pm.InReplyTo, " "), Refs: strings.Join(pm.References, " "),
		Subject: pm.Subject, Text: pm.Text, HTML: pm.HTML, RawSHA256: &raw,
		AuthResults: in.AuthResults, ParseErrors: strings.Join(pm.Errors, "\n"), CreatedAt: t,
	}
	if err := store.InsertMessage(ctx, tx, m); err != nil {
		return 0, err
	}
	for _, p := range pm.Attachments {
		a := &store.Attachment{MessageID: m.ID, Filename: p.Filename, ContentType: p.ContentType, ContentID: p.ContentID, Inline: p.Inline}
		if err := store.InsertAttachment(ctx, tx, a, p.Data); err != nil {
			return 0, err
		}
	}
	return m.ID, nil
}

// acknowledge queues the acknowledgement of a new ticket, unless the message is
// automatic (guarantee 4); the ticket service applies the per-address loop guard.
func (g *Ingester) acknowledge(ctx context.Context, tx *sqlx.Tx, ticketID int64, rt Route, pm *Parsed, class Class, sender string) (bool, error) {
	if class.Automatic {
		return false, store.InsertEvent(ctx, tx, ticketID, "ack_suppressed", "", jsonObj("why", class.Why))
	}
	if sender == "unknown@invalid" {
		return false, store.InsertEvent(ctx, tx, ticketID, "ack_suppressed", "", jsonObj("why", "no sender address"))
	}
	return g.tickets.Acknowledge(ctx, tx, ticketID, "")
}

// trusted reports whether the sender's domain is listed in trusted_unauthenticated_domains.
func (g *Ingester) trusted(sender string) bool {
	_, domain, _ := strings.Cut(sender, "@")
	for _, d := range g.cfg.TrustedDomains {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}

// duplicateIn returns the ticket that already holds this incoming Message-ID from this
// sender for the route (its ticket, or any ticket of its team), or 0. An MTA retry after
// a lost 250 must not become a second message (guarantee 2). The sender is part of the
// key: a Message-ID is only as unique as its author makes it, and anyone who has seen a
// customer's Message-ID (a list, a Cc) could otherwise send first and have the
// customer's own message dropped as a "duplicate".
func duplicateIn(ctx context.Context, tx *sqlx.Tx, msgid, sender string, teamID, ticketID int64) (int64, error) {
	var ids []int64
	err := tx.SelectContext(ctx, &ids, tx.Rebind(`SELECT m.ticket_id FROM messages m JOIN tickets t ON t.id = m.ticket_id
		WHERE m.message_id = ? AND m.direction = 'in' AND m.from_addr = ? AND (t.team_id = ? OR t.id = ?) ORDER BY m.id LIMIT 1`),
		msgid, sender, teamID, ticketID)
	if err != nil {
		return 0, fmt.Errorf("dedupe %s: %w", msgid, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

type txLookup struct{ tx *sqlx.Tx }

func (l txLookup) MessageID(ctx context.Context, id string) ([]threading.Ref, error) {
	refs, err := store.FindMessageID(ctx, l.tx, id)
	out := make([]threading.Ref, len(refs))
	for i, r := range refs {
		out[i] = threading.Ref{TicketID: r.TicketID, Generated: r.Generated}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Generated && !out[j].Generated })
	return out, err
}

func (l txLookup) TicketExists(ctx context.Context, id int64) (bool, error) {
	return store.TicketExists(ctx, l.tx, id)
}

func (l txLookup) IsParticipant(ctx context.Context, ticketID int64, addr string) (bool, error) {
	return store.IsParticipant(ctx, l.tx, ticketID, addr)
}

func addrJSON(list []mail.Address) string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.Address)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func jsonObj(k, v string) string {
	b, _ := json.Marshal(map[string]string{k: v})
	return string(b)
}
