package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// newTicket is the body of POST /tickets.
type newTicket struct {
	Contact struct {
		Email string `json:"email"`
		Name  string `json:"name,omitempty"`
	} `json:"contact"`
	Subject     string `json:"subject"`
	Body        string `json:"body"`
	Mailbox     string `json:"mailbox,omitempty"`
	Priority    string `json:"priority,omitempty"`
	Acknowledge *bool  `json:"acknowledge,omitempty"`
	// Fields are custom fields stored with the ticket, as a portal template's are.
	Fields map[string]string `json:"fields,omitempty"`
}

// fieldName is a custom field's name: what a template's field may be called.
var fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// createTicket: POST /tickets, a ticket opened on behalf of a customer, as if they had
// mailed the mailbox: the team's agents hear of it, the customer gets the
// acknowledgement unless it is declined.
func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, p *principal) {
	if _, err := query(r); err != nil {
		badRequest(w, err.Error())
		return
	}
	ctx := r.Context()
	var in newTicket
	if !s.readJSON(w, r, &in) {
		return
	}
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	addr, err := mail.ParseAddress(in.Contact.Email)
	switch {
	case err != nil || addr.Address != strings.TrimSpace(in.Contact.Email):
		bad("contact.email", "must be a plain address, like alice@example.org")
	case s.mailboxOf(addr.Address) != nil:
		bad("contact.email", "is one of our mailboxes, not a customer")
	}
	in.Subject = strings.TrimSpace(in.Subject)
	if in.Subject == "" || len(in.Subject) > 900 || strings.ContainsAny(in.Subject, "\r\n") {
		bad("subject", "must be one line of 1 to 900 bytes")
	}
	if strings.TrimSpace(in.Body) == "" || len(in.Body) > maxText {
		bad("body", fmt.Sprintf("must be 1 to %d bytes", maxText))
	}
	if in.Priority != "" && !ticket.ValidPriority(in.Priority) {
		bad("priority", "must be low, medium, high or urgent")
	}
	if len(in.Fields) > 30 {
		bad("fields", "at most 30")
	}
	var fields []store.Field
	for name, value := range in.Fields {
		switch {
		case !fieldName.MatchString(name):
			bad("fields."+name, "a name is 1 to 64 of a-z, 0-9 and _, starting with a letter")
		case len(value) > 4000:
			bad("fields."+name, "at most 4000 bytes")
		}
		fields = append(fields, store.Field{Name: name, Label: name, Value: value})
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	var mb *Mailbox
	if in.Mailbox != "" {
		if mb = s.mailboxOf(in.Mailbox); mb == nil {
			bad("mailbox", "is not one of the configured mailboxes")
		}
	}
	var teamID int64
	if len(errs) == 0 {
		if mb == nil {
			mb = s.firstMailboxIn(ctx, p.scope)
		}
		if mb == nil {
			bad("mailbox", "no configured mailbox belongs to this token's team")
		} else if teamID, err = store.TeamByName(ctx, s.st.DB, mb.Team); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		} else if err != nil || !p.scope.Has(teamID) {
			bad("mailbox", "its team ("+mb.Team+") is not this token's")
		}
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
	nt := ticket.NewTicket{Subject: in.Subject, Priority: cmp.Or(in.Priority, mb.Priority), TeamID: teamID, Mailbox: mb.Address,
		Source: ticket.SourceAPI, Reason: "opened through the API by " + agent.Email, Fields: fields,
		Message: ticket.Incoming{From: ticket.Person{Email: addr.Address, Name: in.Contact.Name}, Subject: in.Subject,
			Text: in.Body, To: []mail.Address{{Address: mb.Address}}}}
	if in.Acknowledge != nil && !*in.Acknowledge {
		nt.NoAck = "declined by " + agent.Email + " through the API"
	}
	s.write(w, r, p, in, func(ctx context.Context, tx *sqlx.Tx) (answer, error) {
		id, _, err := s.tickets.Create(ctx, tx, nt)
		if err != nil {
			return answer{}, err
		}
		tk, err := store.GetTicket(ctx, tx, id)
		if err != nil {
			return answer{}, err
		}
		out := toTicket(tk, nil)
		if out.Fields, err = s.fields(ctx, tx, id); err != nil {
			return answer{}, err
		}
		return answer{status: http.StatusCreated, body: out, header: map[string]string{
			"Location": Prefix + "/tickets/" + strconv.FormatInt(id, 10), "ETag": etag(tk)}}, nil
	})
}

// mailboxOf returns the configured mailbox with this address, or nil.
func (s *Server) mailboxOf(addr string) *Mailbox {
	for i := range s.cfg.Mailboxes {
		if strings.EqualFold(s.cfg.Mailboxes[i].Address, addr) {
			return &s.cfg.Mailboxes[i]
		}
	}
	return nil
}

// firstMailboxIn returns the first configured mailbox whose team is in scope.
func (s *Server) firstMailboxIn(ctx context.Context, sc store.Scope) *Mailbox {
	for i := range s.cfg.Mailboxes {
		id, err := store.TeamByName(ctx, s.st.DB, s.cfg.Mailboxes[i].Team)
		if err == nil && sc.Has(id) {
			return &s.cfg.Mailboxes[i]
		}
	}
	return nil
}
