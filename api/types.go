package api

import (
	"time"

	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/store"
)

// The JSON shapes of the API. Field names are snake_case, times RFC 3339 in UTC, ids
// integers; openapi.yaml describes the same shapes and a test holds them to it.

// Ticket is a ticket as the API shows it.
type Ticket struct {
	ID             int64      `json:"id"`
	Subject        string     `json:"subject"`
	Status         string     `json:"status"`
	Priority       string     `json:"priority"`
	Team           TeamRef    `json:"team"`
	Contact        ContactRef `json:"contact"`
	Assignee       *AgentRef  `json:"assignee"`
	Mailbox        string     `json:"mailbox"`
	Flagged        bool       `json:"flagged"`
	FlagReason     string     `json:"flag_reason"`
	LinkedTicketID *int64     `json:"linked_ticket_id"`
	SLA            SLA        `json:"sla"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Fields are the ticket's custom fields (a portal template's, or given to POST
	// /tickets), in one ticket's answers only, not in lists.
	Fields *[]Field `json:"fields,omitempty"`
}

// Field is a custom field of a ticket.
type Field struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Value string `json:"value"`
}

// SLA is a ticket's clock: deadlines in working time and when they were met.
type SLA struct {
	OutsideHours     bool       `json:"outside_hours"`
	ResponseBy       *time.Time `json:"response_by"`
	ResolutionBy     *time.Time `json:"resolution_by"`
	FirstRespondedAt *time.Time `json:"first_responded_at"`
	ResolvedAt       *time.Time `json:"resolved_at"`
	ClosedAt         *time.Time `json:"closed_at"`
}

// TeamRef names a team.
type TeamRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// ContactRef names a contact.
type ContactRef struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// AgentRef names an agent.
type AgentRef struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Message is one message of a ticket's conversation.
type Message struct {
	ID        int64  `json:"id"`
	Direction string `json:"direction"`
	// Kind is customer, agent, note, auto, bounce or agent_refused; Internal is true
	// for what the customer never sees (notes, refused agent mail).
	Kind        string            `json:"kind"`
	Internal    bool              `json:"internal"`
	From        Address           `json:"from"`
	To          []string          `json:"to"`
	Cc          []string          `json:"cc"`
	Subject     string            `json:"subject"`
	MessageID   string            `json:"message_id"`
	Text        string            `json:"text"`
	TextFull    string            `json:"text_full"`
	HTML        string            `json:"html"`
	Auth        *mailauth.Results `json:"auth"`
	Attachments []Attachment      `json:"attachments"`
	CreatedAt   time.Time         `json:"created_at"`
}

// Address is a mail address with its display name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Attachment is a file of a message; URL serves its bytes.
type Attachment struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline"`
	SHA256      string `json:"sha256"`
	URL         string `json:"url"`
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toTicket(t *store.Ticket, agents map[int64]store.Agent) Ticket {
	out := Ticket{
		ID: t.ID, Subject: t.Subject, Status: t.Status, Priority: t.Priority,
		Team:    TeamRef{ID: t.TeamID, Name: t.Team},
		Contact: ContactRef{ID: t.ContactID, Email: t.ContactEmail, Name: t.ContactName},
		Mailbox: t.Mailbox, Flagged: t.Flagged, FlagReason: t.FlagReason, LinkedTicketID: t.LinkedTicketID,
		SLA: SLA{OutsideHours: t.OutsideHours, ResponseBy: utc(t.ResponseBy), ResolutionBy: utc(t.ResolutionBy),
			FirstRespondedAt: utc(t.FirstRespondedAt), ResolvedAt: utc(t.ResolvedAt), ClosedAt: utc(t.ClosedAt)},
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
	}
	if t.AssigneeID != nil {
		a := agents[*t.AssigneeID]
		out.Assignee = &AgentRef{ID: *t.AssigneeID, Email: a.Email, Name: a.Name}
	}
	return out
}
