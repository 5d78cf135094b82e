package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// nullable is a JSON field that may be absent, null or a string.
type nullable struct {
	Set   bool
	Value *string
}

func (n *nullable) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// ticketPatch is the body of PATCH /tickets/{id}: absent fields stay as they are.
type ticketPatch struct {
	Status   *string  `json:"status"`
	Priority *string  `json:"priority"`
	Team     *string  `json:"team"`
	Assignee nullable `json:"assignee"`
}

// patchTicket: PATCH /tickets/{id}, with the same rules and notifications as the
// agents' #status, #priority, #team and #assign commands.
func (s *Server) patchTicket(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := resourceID(w, r, "ticket")
	if !ok {
		return
	}
	ctx := r.Context()
	var in ticketPatch
	if mt := mediaType(r); mt == "application/merge-patch+json" {
		r.Header.Set("Content-Type", "application/json") // RFC 7396: the same object here
	}
	if !s.readJSON(w, r, &in) {
		return
	}
	var errs []FieldError
	if in.Status == nil && in.Priority == nil && in.Team == nil && !in.Assignee.Set {
		errs = append(errs, FieldError{Field: "", Message: "nothing to change: send status, priority, team or assignee"})
	}
	if in.Status != nil && !ticket.ValidStatus(*in.Status) {
		errs = append(errs, FieldError{Field: "status", Message: "must be open, in_progress, resolved or closed"})
	}
	if in.Priority != nil && !ticket.ValidPriority(*in.Priority) {
		errs = append(errs, FieldError{Field: "priority", Message: "must be low, medium, high or urgent"})
	}
	if in.Team != nil {
		if _, err := store.TeamByName(ctx, s.st.DB, *in.Team); errors.Is(err, store.ErrNotFound) {
			errs = append(errs, FieldError{Field: "team", Message: "no team has that name"})
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var assignee *store.Agent
	if in.Assignee.Value != nil {
		a, err := store.AgentByEmail(ctx, s.st.DB, *in.Assignee.Value)
		if errors.Is(err, store.ErrNotFound) {
			errs = append(errs, FieldError{Field: "assignee", Message: "no agent has that address (null unassigns)"})
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
		assignee = a
	}
	if len(errs) > 0 {
		invalid(w, errs...)
		return
	}
	agent, err := s.agentOf(ctx, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	actor := agent.Email
	ifMatch := strings.TrimSpace(r.Header.Get("If-Match"))
	err = s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		tk, err := store.LockTicket(ctx, tx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !p.scope.Has(tk.TeamID) {
			return errNotFound("ticket")
		}
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != "*" && !etagListHas(ifMatch, etag(tk)) {
			return &apiError{status: http.StatusConflict, kind: probConflict,
				detail: "the ticket changed since that version (ETag " + etag(tk) + "): GET it again and decide again"}
		}
		if in.Priority != nil {
			if err := s.tickets.SetPriority(ctx, tx, id, *in.Priority, actor); err != nil {
				return err
			}
		}
		if in.Team != nil && !strings.EqualFold(*in.Team, tk.Team) {
			if err := s.tickets.SetTeam(ctx, tx, id, *in.Team, actor); err != nil {
				return err
			}
		}
		switch {
		case assignee != nil:
			if tk.AssigneeID == nil || *tk.AssigneeID != assignee.ID {
				if err := s.tickets.Assign(ctx, tx, id, assignee, actor); err != nil {
					return err
				}
			}
		case in.Assignee.Set && tk.AssigneeID != nil:
			if err := s.tickets.Unassign(ctx, tx, id, actor); err != nil {
				return err
			}
		}
		if in.Status != nil {
			// Last, so the customer's notification tells the ticket as it now is.
			if err := s.tickets.SetStatus(ctx, tx, id, *in.Status, actor); err != nil {
				return err
			}
		}
		return nil
	})
	var ae *apiError
	if errors.As(err, &ae) {
		writeProblem(w, ae.status, ae.kind, ae.detail, ae.errs...)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// After the commit: the ticket as it is now (it may have left the token's teams:
	// the agent moved it, and is shown what they did).
	tk, err := store.GetTicket(ctx, s.st.DB, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	agents, err := s.agentMap(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := toTicket(tk, agents)
	if out.Fields, err = s.fields(ctx, s.st.DB, id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(tk))
	writeJSON(w, http.StatusOK, out)
}

// etagListHas reports whether an If-Match list names tag (strong comparison, RFC 9110
// 13.1.1; a weak tag never matches).
func etagListHas(list, tag string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.TrimSpace(t) == tag {
			return true
		}
	}
	return false
}
