package ticket

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

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
func (s *Service) RequestFeedback(ctx context.Context, tx *sqlx.Tx, ticketID int64) error {
	tk, n, err := s.contactNotice(ctx, tx, ticketID, outbound.KindFeedbackRequest, "auto-generated")
	if err != nil {
		return err
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
		return err
	}
	if err := store.InsertEvent(ctx, tx, ticketID, EvFeedbackRequested, "", "{}"); err != nil {
		return err
	}
	return s.queue(ctx, tx, tk, n, true)
}

// Rate records the rating of a signed rating link once; a second click of any link of
// the same request returns store.ErrLinkUsed, and so does a ticket rated already in the
// portal (with ErrAlreadyRated). It returns the new feedback's id.
func (s *Service) Rate(ctx context.Context, link Link) (int64, error) {
	rating, ok := RatingOf(link.Arg)
	if !ok || link.Action != ActionRate {
		return 0, ErrLinkInvalid
	}
	var id int64
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		// One rating per ticket, whichever way it comes (this link, the portal's form):
		// the row lock makes two at once wait for each other on PostgreSQL. It comes
		// first: the used link's row refers to the ticket, and a reference taken before
		// the lock would deadlock two clicks against each other.
		if _, err := store.LockTicket(ctx, tx, link.TicketID); err != nil {
			return err
		}
		if err := store.UseLink(ctx, tx, link.Nonce, link.TicketID); err != nil {
			return err
		}
		f := &store.Feedback{TicketID: link.TicketID, Rating: rating}
		if _, err := strconv.Atoi(link.Arg); err != nil {
			f.Choice = link.Arg // a predefined option ("good"), not bare stars
		}
		ok, err := store.InsertRating(ctx, tx, f)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("ticket %d: %w (%w)", link.TicketID, ErrAlreadyRated, store.ErrLinkUsed)
		}
		id = f.ID
		return store.InsertEvent(ctx, tx, link.TicketID, EvRated, "customer", jsonObj("rating", strconv.Itoa(rating), "choice", link.Arg))
	})
	return id, err
}

// CloseByLink closes the ticket of a signed close link once.
func (s *Service) CloseByLink(ctx context.Context, link Link) error {
	if link.Action != ActionClose {
		return ErrLinkInvalid
	}
	return s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := store.UseLink(ctx, tx, link.Nonce, link.TicketID); err != nil {
			return err
		}
		return s.SetStatus(ctx, tx, link.TicketID, StatusClosed, "customer (link)")
	})
}
