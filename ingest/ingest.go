package ingest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

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
	// Tickets is the one door every ticket change goes through.
	Tickets *ticket.Service
	// TrustedDomains are sender domains whose unauthenticated mail counts as authenticated.
	TrustedDomains []string
	// Lanes is how many ingest loops run side by side (lanes.go); 0 is PostgresLanes on
	// PostgreSQL and SQLiteLanes on SQLite.
	Lanes int
}

// Ingester processes spool rows.
type Ingester struct {
	st      *store.Store
	cfg     Config
	log     *slog.Logger
	parser  *Parser
	tickets *ticket.Service
	lanes   []*lane
	now     func() time.Time
	handed  handover
	teams   sync.Map // team name -> id (teamID)
	load    SMTPLoad
	// burstLag bounds how long ingest holds back during a burst (YieldTo).
	burstLag time.Duration
	// heldBack counts holdBack's waits since ingest last caught up.
	heldBack atomic.Int64
	// burstLogged is set while a logged burst lasts, so its end is logged too.
	burstLogged atomic.Bool
	// flow paces the SMTP sessions when ingest is behind (flow.go).
	flow flow
	// archive is set by NewArchive: old mail, stored at its own date, nothing sent
	// (archive.go).
	archive *archiveMode
	// parsed counts messages parsed: once per row, however many batches it waits
	// through (handover.putItem).
	parsed atomic.Int64
}

// New returns an Ingester that changes tickets through cfg.Tickets.
func New(st *store.Store, cfg Config, log *slog.Logger) *Ingester {
	n := cfg.Lanes
	if n <= 0 {
		n = SQLiteLanes
		if st.Dialect == store.Postgres {
			n = PostgresLanes
		}
	}
	return &Ingester{st: st, cfg: cfg, log: log, parser: NewParser(), tickets: cfg.Tickets, lanes: newLanes(n), now: store.Now}
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
		sender = ticket.NoSender
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

// apply routes, deduplicates and threads one parsed message, then hands it to the
// ticket service: a new ticket, a reply on one, or an agent's mail. It decides where a
// message goes; what that changes is the service's.
func (g *Ingester) apply(ctx context.Context, tx *sqlx.Tx, in *store.Inbound, pm *Parsed, class Class, res *Result) error {
	routes := g.routes(in.Rcpt)
	if len(routes) == 0 {
		return errNoRoute
	}
	sender := senderOf(in, pm)
	lookup := txLookup{tx}
	t := g.now()
	bounced, err := g.bounceRefs(ctx, tx, in, pm, class)
	if err != nil {
		return err
	}
	quarantine := quarantineFlag(in)
	for _, rt := range routes {
		if rt.TicketID != 0 {
			// A valid token for a ticket this database does not have (restored from an
			// older backup, or another instance with the same secret): the mail is still
			// for this mailbox, so it opens a ticket instead of failing forever.
			ok, err := store.TicketExists(ctx, tx, rt.TicketID)
			if err != nil {
				return err
			}
			if !ok {
				g.log.Warn("ingest: reply address names a ticket that does not exist; opening a new one", "ticket", rt.TicketID, "inbound_id", in.ID, "message_id", pm.MessageID)
				rt.TicketID, rt.Agent = 0, false
			}
		}
		teamID, err := g.teamID(ctx, tx, rt.Team)
		if err != nil {
			return err
		}
		if pm.MessageID != "" {
			dup, err := store.DuplicateMessage(ctx, tx, pm.MessageID, sender, teamID, rt.TicketID)
			if err != nil {
				return err
			}
			if dup != 0 {
				res.Duplicate = true
				res.Tickets = append(res.Tickets, dup)
				continue
			}
		}
		msg := incoming(in, pm, class, sender)
		if g.archive != nil {
			msg.At, msg.Archive = t, true
		}
		if rt.Agent {
			agent, err := store.AgentByEmail(ctx, tx, sender)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			msg.Text = threading.StripText(pm.Text)
			msgID, err := g.tickets.HandleAgentMail(ctx, tx, rt.TicketID, ticket.AgentMail{
				Agent: agent, Authenticated: g.authenticated(in, sender), Message: msg})
			if err != nil {
				return err
			}
			res.Tickets = append(res.Tickets, rt.TicketID)
			res.Messages = append(res.Messages, msgID)
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
			return err
		}
		if dec.TicketID != 0 && !class.Automatic {
			// A reply long after the ticket was closed is a new matter: a new ticket,
			// linked to the old one, instead of waking a conversation everyone forgot.
			old, err := store.GetTicket(ctx, tx, dec.TicketID)
			if err != nil {
				return err
			}
			if g.tickets.OpensNew(old, t) {
				dec = threading.Decision{Reason: "closed-long-ago", Pointed: old.ID}
			}
		}
		if dec.Flag == "" {
			dec.Flag = quarantine
		}
		if dec.TicketID != 0 {
			msgID, err := g.tickets.AddCustomerMessage(ctx, tx, dec.TicketID, msg, dec.Reason, quarantine)
			if err != nil {
				return err
			}
			res.Tickets = append(res.Tickets, dec.TicketID)
			res.Messages = append(res.Messages, msgID)
			continue
		}
		nt := ticket.NewTicket{Subject: pm.Subject, Priority: rt.Priority, TeamID: teamID, Mailbox: rt.Mailbox,
			Source: ticket.SourceMail, Flag: dec.Flag, LinkedTo: dec.Pointed, Reason: dec.Reason, Message: msg}
		if g.archive != nil {
			nt.Source = ticket.SourceImport
		}
		if quarantine != "" {
			nt.NoAck = quarantine // the From is likely forged: an acknowledgement would be backscatter
		}
		ticketID, msgID, err := g.tickets.Create(ctx, tx, nt)
		if err != nil {
			return err
		}
		res.Tickets = append(res.Tickets, ticketID)
		res.Messages = append(res.Messages, msgID)
		res.Created = append(res.Created, ticketID)
	}
	res.Status = store.InboundDone
	if res.Duplicate && len(res.Messages) == 0 {
		res.Status = store.InboundDuplicate
	}
	return nil
}

// incoming is the message as the ticket service takes it.
func incoming(in *store.Inbound, pm *Parsed, class Class, sender string) ticket.Incoming {
	kind := ticket.MsgCustomer
	if class.Bounce {
		kind = ticket.MsgBounce
	} else if class.Automatic {
		kind = ticket.MsgAuto
	}
	raw, inboundID := in.RawSHA256, in.ID
	m := ticket.Incoming{
		From: ticket.Person{Email: sender, Name: pm.From.Name}, Kind: kind, InboundID: &inboundID,
		MessageID: pm.MessageID, InReplyTo: pm.InReplyTo, References: pm.References, Subject: pm.Subject,
		Text: pm.Text, HTML: pm.HTML, To: pm.To, Cc: pm.Cc, RawSHA256: &raw,
		AuthResults: in.AuthResults, ParseErrors: pm.Errors,
	}
	if class.Automatic {
		m.Automatic = class.Why
	}
	for _, p := range pm.Attachments {
		m.Attachments = append(m.Attachments, ticket.File{Filename: p.Filename, ContentType: p.ContentType,
			ContentID: p.ContentID, Inline: p.Inline, Data: p.Data})
	}
	return m
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
