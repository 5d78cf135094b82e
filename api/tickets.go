package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// ticketList is the answer of GET /tickets.
type ticketList struct {
	Data       []Ticket `json:"data"`
	NextCursor *string  `json:"next_cursor"`
	Total      *int64   `json:"total,omitempty"`
}

var ticketListParams = []string{"status", "priority", "team", "assignee", "contact", "q", "updated_since", "sort", "limit", "cursor", "count"}

var priorities = []string{"low", "medium", "high", "urgent"}

// listTickets: GET /tickets, filtered, sorted, a page at a time.
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	v, err := query(r, ticketListParams...)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	q := store.TicketQuery{Scope: p.scope, Status: v.Get("status"), Priority: v.Get("priority"), Text: v.Get("q")}
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	if q.Status != "" && !ticket.ValidStatus(q.Status) {
		bad("status", "must be open, in_progress, resolved or closed")
	}
	if q.Priority != "" && !contains(priorities, q.Priority) {
		bad("priority", "must be low, medium, high or urgent")
	}
	if len(q.Text) > 200 {
		bad("q", "at most 200 characters")
	}
	empty := false // a filter names nobody: the answer is an empty list
	if t := v.Get("team"); t != "" {
		if q.TeamID, err = s.teamID(ctx, t); errors.Is(err, store.ErrNotFound) {
			bad("team", "no team has that name or id")
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	switch a := v.Get("assignee"); a {
	case "":
	case "none":
		q.AssigneeID = -1
	default:
		id, err := s.agentID(ctx, a)
		if errors.Is(err, store.ErrNotFound) {
			bad("assignee", "no agent has that address or id (none: unassigned)")
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
		q.AssigneeID = id
	}
	if c := v.Get("contact"); c != "" {
		if id, err := strconv.ParseInt(c, 10, 64); err == nil && id > 0 {
			q.ContactID = id
		} else if id, err := store.ContactByEmail(ctx, s.st.DB, c); err == nil {
			q.ContactID = id
		} else if errors.Is(err, store.ErrNotFound) {
			empty = true
		} else {
			s.fail(w, r, err)
			return
		}
	}
	if us := v.Get("updated_since"); us != "" {
		t, err := ParseTime(us, s.now())
		if err != nil {
			bad("updated_since", err.Error())
		}
		q.UpdatedSince = &t
	}
	sortBy := v.Get("sort")
	if sortBy == "" {
		sortBy = "-" + store.SortUpdated
	}
	q.Sort, q.Asc = strings.TrimPrefix(sortBy, "-"), !strings.HasPrefix(sortBy, "-")
	if !contains([]string{store.SortUpdated, store.SortCreated, store.SortID}, q.Sort) {
		bad("sort", "must be updated_at, created_at or id, with - in front for newest first")
	}
	limit, ferr, err := parseLimit(v)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	count := false
	switch v.Get("count") {
	case "", "false":
	case "true":
		count = true
	default:
		badRequest(w, "count must be true or false")
		return
	}
	digest := filterDigest(v, "cursor", "limit", "count", "sort")
	if cs := v.Get("cursor"); cs != "" {
		c, err := decodeCursor(cs)
		if err != nil || c.Filter != digest || c.Sort != q.Sort || c.Asc != q.Asc {
			badRequest(w, errCursor.Error())
			return
		}
		q.After = &store.TicketKey{At: c.At, ID: c.ID}
	}
	if len(errs) > 0 {
		invalid(w, errs...)
		return
	}
	out := ticketList{Data: []Ticket{}}
	if empty {
		if count {
			out.Total = new(int64)
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	q.Limit = limit + 1 // one more says whether there is a next page
	rows, err := s.st.QueryTickets(ctx, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	agents, err := s.agentMap(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		c := cursor{Sort: q.Sort, Asc: q.Asc, ID: last.ID, Filter: digest, At: last.UpdatedAt.UTC()}
		if q.Sort == store.SortCreated {
			c.At = last.CreatedAt.UTC()
		}
		next := c.encode()
		out.NextCursor = &next
	}
	for i := range rows {
		out.Data = append(out.Data, toTicket(&rows[i], agents))
	}
	if count {
		q.After = nil
		n, err := s.st.CountTickets(ctx, q)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.Total = &n
	}
	writeJSON(w, http.StatusOK, out)
}

// teamID reads a team by id or name.
func (s *Server) teamID(ctx context.Context, v string) (int64, error) {
	if id, err := strconv.ParseInt(v, 10, 64); err == nil {
		teams, err := store.ListTeams(ctx, s.st.DB)
		if err != nil {
			return 0, err
		}
		for _, t := range teams {
			if t.ID == id {
				return id, nil
			}
		}
		return 0, store.ErrNotFound
	}
	id, err := store.TeamByName(ctx, s.st.DB, v)
	if errors.Is(err, store.ErrNotFound) {
		return 0, store.ErrNotFound
	}
	return id, err
}

// agentID reads an agent by id or address.
func (s *Server) agentID(ctx context.Context, v string) (int64, error) {
	var (
		a   *store.Agent
		err error
	)
	if id, perr := strconv.ParseInt(v, 10, 64); perr == nil {
		a, err = store.AgentByID(ctx, s.st.DB, id)
	} else {
		a, err = store.AgentByEmail(ctx, s.st.DB, v)
	}
	if errors.Is(err, store.ErrNotFound) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return a.ID, nil
}

// scopedTicket loads a ticket the principal may see. Every route that takes a ticket
// id goes through here: outside the scope is the same 404 as no such ticket.
func (s *Server) scopedTicket(ctx context.Context, p *principal, id int64) (*store.Ticket, error) {
	t, err := store.GetTicket(ctx, s.st.DB, id)
	if err != nil {
		return nil, err
	}
	if !p.scope.Has(t.TeamID) {
		return nil, fmt.Errorf("ticket %d: outside the token's teams: %w", id, store.ErrNotFound)
	}
	return t, nil
}

// etag is a ticket's version: it changes with every change of the ticket.
func etag(t *store.Ticket) string {
	return fmt.Sprintf(`"%d-%d"`, t.ID, t.UpdatedAt.UnixMicro())
}

// getTicket: GET /tickets/{id}.
func (s *Server) getTicket(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := resourceID(w, r, "ticket")
	if !ok {
		return
	}
	t, err := s.scopedTicket(r.Context(), p, id)
	if errors.Is(err, store.ErrNotFound) {
		notFound(w, "ticket")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	agents, err := s.agentMap(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := toTicket(t, agents)
	if out.Fields, err = s.fields(r.Context(), s.st.DB, id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(t))
	writeJSON(w, http.StatusOK, out)
}

// fields loads a ticket's custom fields for a one-ticket answer.
func (s *Server) fields(ctx context.Context, q sqlx.QueryerContext, id int64) (*[]Field, error) {
	rows, err := store.ListFields(ctx, q, id)
	if err != nil {
		return nil, err
	}
	out := make([]Field, 0, len(rows))
	for _, f := range rows {
		out = append(out, Field{Name: f.Name, Label: f.Label, Value: f.Value})
	}
	return &out, nil
}
