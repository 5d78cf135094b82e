package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// Contact is a customer as the API shows it.
type Contact struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Language  string    `json:"language"`
	Tickets   int64     `json:"ticket_count"`
	CreatedAt time.Time `json:"created_at"`
}

// ContactDetail is a contact with their tickets (those the token sees), newest first.
type ContactDetail struct {
	Contact
	TicketList []Ticket `json:"tickets"`
}

type contactList struct {
	Data       []Contact `json:"data"`
	NextCursor *string   `json:"next_cursor"`
}

func toContact(c store.ContactRow) Contact {
	return Contact{ID: c.ID, Email: c.Email, Name: c.Name, Language: c.Language, Tickets: c.Tickets, CreatedAt: c.CreatedAt.UTC()}
}

// listContacts: GET /contacts, the people who have tickets in the token's teams.
func (s *Server) listContacts(w http.ResponseWriter, r *http.Request, p *principal) {
	v, err := query(r, "q", "limit", "cursor")
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	limit, ferr, err := parseLimit(v)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if ferr != nil {
		invalid(w, *ferr)
		return
	}
	q := store.ContactQuery{Scope: p.scope, Text: v.Get("q"), Limit: limit + 1}
	if len(q.Text) > 200 {
		invalid(w, FieldError{Field: "q", Message: "at most 200 characters"})
		return
	}
	digest := filterDigest(v, "cursor", "limit")
	if cs := v.Get("cursor"); cs != "" {
		c, err := decodeCursor(cs)
		if err != nil || c.Filter != digest || c.Sort != "contacts" {
			badRequest(w, errCursor.Error())
			return
		}
		q.AfterID = c.ID
	}
	rows, err := s.st.QueryContacts(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := contactList{Data: []Contact{}}
	if len(rows) > limit {
		rows = rows[:limit]
		next := cursor{Sort: "contacts", ID: rows[limit-1].ID, Filter: digest}.encode()
		out.NextCursor = &next
	}
	for _, c := range rows {
		out.Data = append(out.Data, toContact(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// getContact: GET /contacts/{id} with their tickets in the token's teams (the newest
// 100; GET /tickets?contact=ID pages through all).
func (s *Server) getContact(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := resourceID(w, r, "contact")
	if !ok {
		return
	}
	ctx := r.Context()
	c, err := s.st.ContactInScope(ctx, p.scope, id)
	if errors.Is(err, store.ErrNotFound) {
		notFound(w, "contact")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows, err := s.st.QueryTickets(ctx, store.TicketQuery{Scope: p.scope, ContactID: id, Limit: 100})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	agents, err := s.agentMap(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := ContactDetail{Contact: toContact(*c), TicketList: []Ticket{}}
	for i := range rows {
		out.TicketList = append(out.TicketList, toTicket(&rows[i], agents))
	}
	w.Header().Set("Link", "<"+Prefix+"/tickets?contact="+strconv.FormatInt(id, 10)+`>; rel="related"`)
	writeJSON(w, http.StatusOK, out)
}
