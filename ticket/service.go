package ticket

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// Config is what the Service needs from the rest of mxdesk.
type Config struct {
	Composer *outbound.Composer
	Signer   *threading.Signer
	Links    *Links
	// MaxAutoPerHour caps automatic mails to one address per hour (the loop guard);
	// zero is config.DefaultMaxAutoPerHour.
	MaxAutoPerHour int
	// LinkTTL is how long close and rating links work (default 30 days); view links
	// work three times as long.
	LinkTTL time.Duration
	// SLA is the working-hours calendar and the targets per priority; nil is DefaultSLA.
	SLA *SLA
	// Own reports whether an address is one of our mailboxes: never a participant.
	Own func(addr string) bool
	// ReopenWindow is how long after closing a customer's message reopens a ticket; a
	// later one opens a new ticket linked to the old. Zero: always reopen.
	ReopenWindow time.Duration
	// Suggest, when set, picks knowledge-base articles for a new ticket's
	// acknowledgement (suggest.go).
	Suggest SuggestFunc
}

// Service changes tickets and queues the notifications the changes cause.
type Service struct {
	st  *store.Store
	cfg Config
	log *slog.Logger
	now func() time.Time
	// teams caches team names by id (teamName).
	teams sync.Map
}

// New returns the ticket service.
func New(st *store.Store, cfg Config, log *slog.Logger) *Service {
	if cfg.MaxAutoPerHour <= 0 {
		cfg.MaxAutoPerHour = config.DefaultMaxAutoPerHour
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 30 * 24 * time.Hour
	}
	return &Service{st: st, cfg: cfg, log: log, now: store.Now}
}

// Store returns the service's store, for callers that run their own transaction.
func (s *Service) Store() *store.Store { return s.st }

// replyAddress is the ticket's signed reply address for customers.
func (s *Service) replyAddress(tk *store.Ticket) string {
	return threading.ReplyAddress(tk.Mailbox, s.cfg.Signer.Token(threading.RoleCustomer, tk.ID))
}

func (s *Service) viewLink(tk *store.Ticket) string {
	if s.cfg.Links == nil {
		return ""
	}
	return s.cfg.Links.URL(Link{Action: ActionView, TicketID: tk.ID, Expires: s.now().Add(3 * s.cfg.LinkTTL), Nonce: NewNonce()})
}

func (s *Service) closeLink(tk *store.Ticket) string {
	if s.cfg.Links == nil {
		return ""
	}
	return s.cfg.Links.URL(Link{Action: ActionClose, TicketID: tk.ID, Expires: s.now().Add(s.cfg.LinkTTL), Nonce: NewNonce()})
}

// notice fills what every notification about tk to r shares.
func (s *Service) notice(ctx context.Context, tx *sqlx.Tx, kind string, tk *store.Ticket, r store.Recipient, auto string) (outbound.Notice, error) {
	ids, lastIn, err := store.ThreadIDs(ctx, tx, tk.ID)
	if err != nil {
		return outbound.Notice{}, err
	}
	return s.noticeIn(kind, tk, r, thread{ids: ids, lastIn: lastIn}, auto), nil
}

// noticeIn is notice for a thread the caller has read.
func (s *Service) noticeIn(kind string, tk *store.Ticket, r store.Recipient, th thread, auto string) outbound.Notice {
	inReplyTo := th.lastIn
	if inReplyTo == "" && len(th.ids) > 0 {
		inReplyTo = th.ids[len(th.ids)-1]
	}
	return outbound.Notice{
		Kind: kind, Lang: s.cfg.Composer.Language(r.Language), TicketID: tk.ID, TicketSubject: tk.Subject,
		Team: tk.Team, To: mail.Address{Name: r.Name, Address: r.Email}, ContactName: r.Name,
		ReplyTo: s.replyAddress(tk), InReplyTo: inReplyTo, References: trimRefs(th.ids),
		Links: outbound.Links{View: s.viewLink(tk)}, AutoSubmitted: auto,
	}
}

// teamName is a team's name, read once per team: teams are never renamed or deleted.
func (s *Service) teamName(ctx context.Context, tx *sqlx.Tx, id int64) (string, error) {
	if name, ok := s.teams.Load(id); ok {
		return name.(string), nil
	}
	name, err := store.TeamName(ctx, tx, id)
	if err != nil {
		return "", err
	}
	s.teams.Store(id, name)
	return name, nil
}

// contactNotice loads a ticket and starts a notice of a kind to its contact.
func (s *Service) contactNotice(ctx context.Context, tx *sqlx.Tx, ticketID int64, kind, auto string) (*store.Ticket, outbound.Notice, error) {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return nil, outbound.Notice{}, err
	}
	r, err := store.Contact(ctx, tx, tk.ContactID)
	if err != nil {
		return nil, outbound.Notice{}, err
	}
	n, err := s.notice(ctx, tx, kind, tk, *r, auto)
	return tk, n, err
}

// trimRefs keeps the first id (the thread's root, which clients key on) and the latest
// ones: References grows with every message and some servers refuse long headers.
func trimRefs(ids []string) []string {
	if len(ids) <= 10 {
		return ids
	}
	return append([]string{ids[0]}, ids[len(ids)-9:]...)
}

// queue writes one composed notice to the outbox. Automatic mail past MaxAutoPerHour to
// one address is kept as suppressed, visible in `mxdesk queue outbound`, never sent. In
// a batch (store.WithBatch) the row waits for FlushBatch, which decides the whole
// batch's automatic mail at once.
func (s *Service) queue(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, n outbound.Notice, automatic bool) error {
	row := &store.Outbox{TicketID: &tk.ID, Kind: n.Kind, Automatic: automatic, RcptTo: n.To.Address}
	if b := store.BatchOf(ctx); b != nil {
		// The row is queued now with what the batch's reads of the outbox need
		// (ticket, kind, recipient, Message-ID); its mail is composed beside the
		// transaction and is there when FlushBatch writes the rows.
		n.MessageID = s.cfg.Composer.NewMessageID()
		row.MessageID = n.MessageID
		b.QueueOutbox(row)
		b.Beside(func() error {
			m, err := s.cfg.Composer.Compose(n)
			if err != nil {
				return err
			}
			row.MailFrom, row.Raw = m.From, m.Raw
			return nil
		})
		return nil
	}
	m, err := s.cfg.Composer.Compose(n)
	if err != nil {
		return err
	}
	row.MailFrom, row.MessageID, row.Raw = m.From, m.MessageID, m.Raw
	if automatic {
		count, err := store.CountAutomaticSince(ctx, tx, row.RcptTo, s.now().Add(-time.Hour))
		if err != nil {
			return err
		}
		if count >= s.cfg.MaxAutoPerHour {
			if err := s.suppress(ctx, tx, row, count); err != nil {
				return err
			}
		}
	}
	return s.st.InsertOutbox(ctx, tx, row)
}

// suppress marks an automatic mail as held back by the loop guard (count mails to its
// recipient in the last hour) and records it in the ticket's history.
func (s *Service) suppress(ctx context.Context, tx *sqlx.Tx, row *store.Outbox, count int) error {
	row.Status = store.OutboxSuppressed
	row.LastError = fmt.Sprintf("loop guard: %d automatic mails to %s in the last hour", count, row.RcptTo)
	return store.InsertEvent(ctx, tx, *row.TicketID, EvNotificationSuppressed, "", jsonObj("kind", row.Kind, "to", row.RcptTo, "why", row.LastError))
}

// FlushBatch ends a batch (store.WithBatch) before its transaction commits: the loop
// guard decides the batch's automatic mail, in the order it was queued, from one count
// per recipient (taken under a lock per recipient, so concurrent transactions count
// exactly),
// and the outbox rows and history rows are written a statement per table.
func (s *Service) FlushBatch(ctx context.Context, tx *sqlx.Tx, b *store.Batch) error {
	rows, err := b.TakeOutbox()
	if err != nil {
		return err
	}
	var rcpts []string
	for _, r := range rows {
		if r.Automatic {
			rcpts = append(rcpts, r.RcptTo)
		}
	}
	if len(rcpts) > 0 {
		counts, err := store.CountAutomaticSinceMany(ctx, tx, rcpts, s.now().Add(-time.Hour), s.cfg.MaxAutoPerHour)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if !r.Automatic {
				continue
			}
			if c := counts[r.RcptTo]; c >= s.cfg.MaxAutoPerHour {
				if err := s.suppress(ctx, tx, r, c); err != nil {
					return err
				}
				continue
			}
			counts[r.RcptTo]++
		}
	}
	if err := s.st.InsertOutboxRows(ctx, tx, rows); err != nil {
		return err
	}
	return b.Flush(ctx, tx)
}

// thread is what a notice is threaded under: the conversation's Message-IDs in order,
// and the customer's last.
type thread struct {
	ids    []string
	lastIn string
}

// acknowledge queues the acknowledgement of tk to r from what the caller holds: Create
// has just written every row it would read back (the ticket, its contact, its one
// message), so it composes from those, not from the database.
func (s *Service) acknowledge(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, r store.Recipient, th thread, text, sla string) error {
	n := s.noticeIn(outbound.KindAck, tk, r, th, "auto-replied")
	n.SLA = sla
	if sla == "" {
		n.SLA = s.sla().Expectation(n.Lang, tk.Priority)
	}
	n.OutsideHours = tk.OutsideHours
	n.Articles = s.suggest(ctx, tx, tk, text, n.Lang)
	return s.queue(ctx, tx, tk, n, true)
}

// AgentReply is an agent's answer to send to the customer and the participants.
type AgentReply struct {
	AgentName   string
	Text        string // what the customer reads (stripped of the agent's quoted history)
	Attachments []outbound.File
}

// AgentReplied queues the agent's message to the contact and every participant, from
// the mailbox address with the agent's name, threaded into the customer's conversation,
// with a close link. It is a human message, so the loop guard does not hold it back.
func (s *Service) AgentReplied(ctx context.Context, tx *sqlx.Tx, ticketID int64, reply AgentReply) error {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	rs, err := store.Participants(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		n, err := s.notice(ctx, tx, outbound.KindAgentReply, tk, r, "")
		if err != nil {
			return err
		}
		n.AgentName, n.Message, n.Attachments = reply.AgentName, reply.Text, reply.Attachments
		n.FromName = reply.AgentName + " (" + s.cfg.Composer.Brand().Name + ")"
		n.Links.Close = s.closeLink(tk)
		if err := s.queue(ctx, tx, tk, n, false); err != nil {
			return err
		}
	}
	return nil
}

func jsonObj(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}
