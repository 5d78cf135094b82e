package ticket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// Config is what the Service needs from the rest of mxdesk.
type Config struct {
	Composer *outbound.Composer
	Signer   *threading.Signer
	Links    *Links
	// MaxAutoPerHour caps automatic mails to one address per hour (guarantee 4).
	MaxAutoPerHour int
	// LinkTTL is how long close and rating links work (default 30 days); view links
	// work three times as long.
	LinkTTL time.Duration
	// OnOutbox is told after a transaction that queued mail commits (outbound wakes).
	OnOutbox func()
	// SLA is the working-hours calendar and the targets per priority; nil is DefaultSLA.
	SLA *SLA
}

// Service changes tickets and queues the notifications the changes cause.
type Service struct {
	st  *store.Store
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns the ticket service.
func New(st *store.Store, cfg Config, log *slog.Logger) *Service {
	if cfg.MaxAutoPerHour <= 0 {
		cfg.MaxAutoPerHour = 10
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 30 * 24 * time.Hour
	}
	return &Service{st: st, cfg: cfg, log: log, now: store.Now}
}

// Store returns the service's store, for callers that run their own transaction.
func (s *Service) Store() *store.Store { return s.st }

// Woke tells outbound that mail was queued; call after the transaction committed.
func (s *Service) Woke() {
	if s.cfg.OnOutbox != nil {
		s.cfg.OnOutbox()
	}
}

// ErrBadStatus is returned for a status that is not one of the four.
var ErrBadStatus = errors.New("unknown status")

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
	inReplyTo := lastIn
	if inReplyTo == "" && len(ids) > 0 {
		inReplyTo = ids[len(ids)-1]
	}
	return outbound.Notice{
		Kind: kind, Lang: s.cfg.Composer.Language(r.Language), TicketID: tk.ID, TicketSubject: tk.Subject,
		Team: tk.Team, To: mail.Address{Name: r.Name, Address: r.Email}, ContactName: r.Name,
		ReplyTo: s.replyAddress(tk), InReplyTo: inReplyTo, References: trimRefs(ids),
		Links: outbound.Links{View: s.viewLink(tk)}, AutoSubmitted: auto,
	}, nil
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
// one address is kept as suppressed, visible in `mxdesk queue outbound`, never sent.
func (s *Service) queue(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, n outbound.Notice, automatic bool) (bool, error) {
	m, err := s.cfg.Composer.Compose(n)
	if err != nil {
		return false, err
	}
	row := &store.Outbox{TicketID: &tk.ID, Kind: n.Kind, Automatic: automatic,
		MailFrom: m.From, RcptTo: m.To, MessageID: m.MessageID, Raw: m.Raw}
	if automatic {
		count, err := store.CountAutomaticSince(ctx, tx, m.To, s.now().Add(-time.Hour))
		if err != nil {
			return false, err
		}
		if count >= s.cfg.MaxAutoPerHour {
			row.Status = store.OutboxSuppressed
			row.LastError = fmt.Sprintf("loop guard: %d automatic mails to %s in the last hour", count, m.To)
			if err := store.InsertOutbox(ctx, tx, row); err != nil {
				return false, err
			}
			return false, store.InsertEvent(ctx, tx, tk.ID, "notification_suppressed", "", jsonObj("kind", n.Kind, "to", m.To, "why", row.LastError))
		}
	}
	if err := store.InsertOutbox(ctx, tx, row); err != nil {
		return false, err
	}
	return true, nil
}

// Acknowledge queues the acknowledgement of a new ticket to its contact, threaded under
// the customer's message (which is already stored on the ticket).
func (s *Service) Acknowledge(ctx context.Context, tx *sqlx.Tx, ticketID int64, sla string) (bool, error) {
	tk, n, err := s.contactNotice(ctx, tx, ticketID, outbound.KindAck, "auto-replied")
	if err != nil {
		return false, err
	}
	n.SLA = sla
	if sla == "" {
		n.SLA = s.sla().Expectation(n.Lang, tk.Priority)
	}
	n.OutsideHours = tk.OutsideHours
	return s.queue(ctx, tx, tk, n, true)
}

// SetStatus changes a ticket's status in the caller's transaction, records the event
// and queues the customer's notification: "closed" for Closed, "status changed" (with a
// close link when Resolved) otherwise. Setting the status it already has does nothing.
func (s *Service) SetStatus(ctx context.Context, tx *sqlx.Tx, ticketID int64, status, actor string) (bool, error) {
	return s.setStatus(ctx, tx, ticketID, status, actor, true)
}

// setStatus is SetStatus with the customer's notification optional.
func (s *Service) setStatus(ctx context.Context, tx *sqlx.Tx, ticketID int64, status, actor string, notify bool) (bool, error) {
	if !ValidStatus(status) {
		return false, fmt.Errorf("ticket %d: %w %q (want open, in_progress, resolved or closed)", ticketID, ErrBadStatus, status)
	}
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return false, err
	}
	if tk.Status == status {
		return false, nil
	}
	old := tk.Status
	if err := store.UpdateTicketStatus(ctx, tx, ticketID, status, s.now()); err != nil {
		return false, err
	}
	tk.Status = status
	if (old == StatusResolved || old == StatusClosed) && (status == StatusOpen || status == StatusInProgress) {
		// The clock stood still while the ticket waited on the customer.
		if err := s.resumeSLA(ctx, tx, tk); err != nil {
			return false, err
		}
	}
	if err := store.InsertEvent(ctx, tx, ticketID, "status_changed", actor, jsonObj("from", old, "to", status)); err != nil {
		return false, err
	}
	if !notify {
		return false, nil
	}
	r, err := store.Contact(ctx, tx, tk.ContactID)
	if err != nil {
		return false, err
	}
	kind := outbound.KindStatusChanged
	if status == StatusClosed {
		kind = outbound.KindClosed
	}
	n, err := s.notice(ctx, tx, kind, tk, *r, "auto-generated")
	if err != nil {
		return false, err
	}
	n.OldStatus, n.NewStatus = old, status
	if status == StatusResolved {
		n.Links.Close = s.closeLink(tk)
	}
	return s.queue(ctx, tx, tk, n, true)
}

// ChangeStatus is SetStatus in its own transaction.
func (s *Service) ChangeStatus(ctx context.Context, ticketID int64, status, actor string) error {
	var queued bool
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		queued, err = s.SetStatus(ctx, tx, ticketID, status, actor)
		return err
	})
	if err == nil && queued {
		s.Woke()
	}
	return err
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
func (s *Service) AgentReplied(ctx context.Context, tx *sqlx.Tx, ticketID int64, reply AgentReply) (bool, error) {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return false, err
	}
	rs, err := store.Participants(ctx, tx, ticketID)
	if err != nil {
		return false, err
	}
	queued := false
	for _, r := range rs {
		n, err := s.notice(ctx, tx, outbound.KindAgentReply, tk, r, "")
		if err != nil {
			return false, err
		}
		n.AgentName, n.Message, n.Attachments = reply.AgentName, reply.Text, reply.Attachments
		n.FromName = reply.AgentName + " (" + s.cfg.Composer.Brand().Name + ")"
		n.Links.Close = s.closeLink(tk)
		q, err := s.queue(ctx, tx, tk, n, false)
		if err != nil {
			return false, err
		}
		queued = queued || q
	}
	return queued, nil
}

// RateOptions are the predefined answers of a feedback request besides the stars, with
// the rating each records.
var RateOptions = []struct {
	Arg    string
	Rating int
	Label  map[string]string
}{
	{"excellent", 5, map[string]string{"en": "Excellent", "de": "Ausgezeichnet"}},
	{"good", 4, map[string]string{"en": "Good", "de": "Gut"}},
	{"fair", 3, map[string]string{"en": "Fair", "de": "Mittel"}},
	{"poor", 1, map[string]string{"en": "Poor", "de": "Schlecht"}},
}

// RatingOf maps a rating link's argument to the rating it records.
func RatingOf(arg string) (int, bool) {
	if n, err := strconv.Atoi(arg); err == nil && n >= 1 && n <= 5 {
		return n, true
	}
	for _, o := range RateOptions {
		if o.Arg == arg {
			return o.Rating, true
		}
	}
	return 0, false
}

// RequestFeedback queues the feedback request: 1–5 star links and the predefined
// options, all signed and sharing one nonce, so the first click counts and the others
// say the rating is recorded.
func (s *Service) RequestFeedback(ctx context.Context, tx *sqlx.Tx, ticketID int64) (bool, error) {
	tk, n, err := s.contactNotice(ctx, tx, ticketID, outbound.KindFeedbackRequest, "auto-generated")
	if err != nil {
		return false, err
	}
	if s.cfg.Links != nil {
		nonce, exp := NewNonce(), s.now().Add(s.cfg.LinkTTL)
		link := func(arg string) string {
			return s.cfg.Links.URL(Link{Action: ActionRate, TicketID: tk.ID, Arg: arg, Expires: exp, Nonce: nonce})
		}
		for stars := 5; stars >= 1; stars-- {
			label := fmt.Sprintf("%d ★", stars)
			n.Links.Rate = append(n.Links.Rate, outbound.RateLink{Label: label, URL: link(strconv.Itoa(stars))})
		}
		for _, o := range RateOptions {
			n.Links.Rate = append(n.Links.Rate, outbound.RateLink{Label: o.Label[n.Lang], URL: link(o.Arg)})
		}
	}
	if first, err := store.MarkFeedbackRequested(ctx, tx, ticketID, s.now()); err != nil || !first {
		// Asked already (by another replica's job, or by hand): once per ticket.
		return false, err
	}
	if err := store.InsertEvent(ctx, tx, ticketID, "feedback_requested", "", "{}"); err != nil {
		return false, err
	}
	return s.queue(ctx, tx, tk, n, true)
}

// Rate records the rating of a signed rating link once; a second click of any link of
// the same request returns store.ErrLinkUsed. It returns the new feedback's id.
func (s *Service) Rate(ctx context.Context, link Link) (int64, error) {
	rating, ok := RatingOf(link.Arg)
	if !ok || link.Action != ActionRate {
		return 0, ErrLinkInvalid
	}
	var id int64
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := store.UseLink(ctx, tx, link.Nonce, link.TicketID); err != nil {
			return err
		}
		f := &store.Feedback{TicketID: link.TicketID, Rating: rating}
		if err := store.InsertFeedback(ctx, tx, f); err != nil {
			return err
		}
		id = f.ID
		return store.InsertEvent(ctx, tx, link.TicketID, "rated", "customer", jsonObj("rating", strconv.Itoa(rating), "choice", link.Arg))
	})
	return id, err
}

// CloseByLink closes the ticket of a signed close link once.
func (s *Service) CloseByLink(ctx context.Context, link Link) error {
	if link.Action != ActionClose {
		return ErrLinkInvalid
	}
	queued := false
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := store.UseLink(ctx, tx, link.Nonce, link.TicketID); err != nil {
			return err
		}
		var err error
		queued, err = s.SetStatus(ctx, tx, link.TicketID, StatusClosed, "customer (link)")
		return err
	})
	if err == nil && queued {
		s.Woke()
	}
	return err
}

func jsonObj(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Reopen opens a Resolved or Closed ticket again because the customer wrote; the agents
// learn of it from the customer's message they are sent, the customer needs no mail.
func (s *Service) Reopen(ctx context.Context, tx *sqlx.Tx, ticketID int64, actor string) (bool, error) {
	return s.setStatus(ctx, tx, ticketID, StatusOpen, actor, false)
}
