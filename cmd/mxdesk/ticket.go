package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// ticketJSON is the shape `ticket list --json` prints; scripts and tests rely on it.
type ticketJSON struct {
	ID         int64     `json:"id"`
	Subject    string    `json:"subject"`
	Status     string    `json:"status"`
	Priority   string    `json:"priority"`
	Team       string    `json:"team"`
	Contact    string    `json:"contact"`
	Flagged    bool      `json:"flagged"`
	FlagReason string    `json:"flag_reason,omitempty"`
	Linked     *int64    `json:"linked_ticket_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// The SLA clock: deadlines in working time, and when they were met.
	OutsideHours     bool       `json:"outside_hours"`
	ResponseBy       *time.Time `json:"response_by"`
	ResolutionBy     *time.Time `json:"resolution_by"`
	FirstRespondedAt *time.Time `json:"first_responded_at"`
	ResolvedAt       *time.Time `json:"resolved_at"`
	ClosedAt         *time.Time `json:"closed_at,omitempty"`
}

// ticketDetailJSON is `ticket show --json`: the ticket and its messages.
type ticketDetailJSON struct {
	ticketJSON
	Messages []messageJSON `json:"messages"`
	Events   []eventJSON   `json:"events"`
	// Fields are a portal ticket template's values; Feedback the customer's ratings.
	Fields   []store.Field    `json:"fields"`
	Feedback []store.Feedback `json:"feedback"`
}

type messageJSON struct {
	ID        int64    `json:"id"`
	Direction string   `json:"direction"`
	Kind      string   `json:"kind"`
	From      string   `json:"from"`
	To        []string `json:"to"`
	Cc        []string `json:"cc,omitempty"`
	MessageID string   `json:"message_id"`
	Subject   string   `json:"subject"`
	// Text is what people read (quoted history stripped); TextFull the text as received.
	Text        string           `json:"text"`
	TextFull    string           `json:"text_full"`
	CreatedAt   time.Time        `json:"created_at"`
	RawSHA256   string           `json:"raw_sha256,omitempty"`
	ParseErrors []string         `json:"parse_errors,omitempty"`
	Attachments []attachmentJSON `json:"attachments"`
	// Auth is what smtpd found when the message arrived (incoming mail only).
	Auth *authJSON `json:"auth,omitempty"`
}

type attachmentJSON struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Inline      bool   `json:"inline,omitempty"`
}

type eventJSON struct {
	Kind      string          `json:"kind"`
	Actor     string          `json:"actor,omitempty"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

func toTicketJSON(t store.Ticket) ticketJSON {
	return ticketJSON{ID: t.ID, Subject: t.Subject, Status: t.Status, Priority: t.Priority, Team: t.Team,
		Contact: t.ContactEmail, Flagged: t.Flagged, FlagReason: t.FlagReason, Linked: t.LinkedTicketID,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, OutsideHours: t.OutsideHours, ResponseBy: t.ResponseBy,
		ResolutionBy: t.ResolutionBy, FirstRespondedAt: t.FirstRespondedAt, ResolvedAt: t.ResolvedAt, ClosedAt: t.ClosedAt}
}

func cmdTicket(ctx context.Context, cfgPath string, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"want 'ticket list' or 'ticket show N'"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("ticket "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	status := fs.String("status", "", "only tickets with this status (list)")
	limit := fs.Int("limit", 100, "at most this many tickets (list)")
	full := fs.Bool("full", false, "each message's text as received, quoted history included (show)")
	// Flags may come before or after the ticket number.
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	_, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "list":
		tickets, err := st.ListTickets(ctx, store.TicketFilter{Status: *status, Limit: *limit})
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]ticketJSON, 0, len(tickets))
			for _, t := range tickets {
				out = append(out, toTicketJSON(t))
			}
			return writeJSON(stdout, out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tPRIORITY\tTEAM\tCONTACT\tUPDATED\tSUBJECT")
		for _, t := range tickets {
			subj := t.Subject
			if t.Flagged {
				subj = "[flagged] " + subj
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Status, t.Priority, t.Team, t.ContactEmail,
				t.UpdatedAt.Local().Format("2006-01-02 15:04"), subj)
		}
		return tw.Flush()
	case "show":
		if len(pos) != 1 {
			return usageError{"want 'ticket show N'"}
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
		if err != nil || id <= 0 {
			return usageError{fmt.Sprintf("%q is not a ticket number", pos[0])}
		}
		d, err := loadTicketDetail(ctx, st, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, d)
		}
		printTicket(stdout, d, *full)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown subcommand %q: want list or show", sub)}
	}
}

func loadTicketDetail(ctx context.Context, st *store.Store, id int64) (*ticketDetailJSON, error) {
	t, err := store.GetTicket(ctx, st.DB, id)
	if err != nil {
		return nil, err
	}
	msgs, err := store.ListMessages(ctx, st.DB, id)
	if err != nil {
		return nil, err
	}
	atts, err := store.ListAttachments(ctx, st.DB, id)
	if err != nil {
		return nil, err
	}
	events, err := store.ListEvents(ctx, st.DB, id)
	if err != nil {
		return nil, err
	}
	d := &ticketDetailJSON{ticketJSON: toTicketJSON(*t), Messages: []messageJSON{}, Events: []eventJSON{}}
	for _, m := range msgs {
		mj := messageJSON{ID: m.ID, Direction: m.Direction, Kind: m.Kind, From: m.FromAddr, MessageID: m.MessageID,
			Subject: m.Subject, Text: ticket.ReadableText(&m), TextFull: m.Text, CreatedAt: m.CreatedAt, To: []string{}, Attachments: []attachmentJSON{}}
		_ = json.Unmarshal([]byte(m.ToJSON), &mj.To)
		_ = json.Unmarshal([]byte(m.CcJSON), &mj.Cc)
		if m.RawSHA256 != nil {
			mj.RawSHA256 = *m.RawSHA256
		}
		mj.Auth = toAuthJSON(m.AuthResults)
		if m.ParseErrors != "" {
			mj.ParseErrors = strings.Split(m.ParseErrors, "\n")
		}
		for _, a := range atts[m.ID] {
			mj.Attachments = append(mj.Attachments, attachmentJSON{Filename: a.Filename, ContentType: a.ContentType,
				Size: a.Size, SHA256: a.SHA256, Inline: a.Inline})
		}
		d.Messages = append(d.Messages, mj)
	}
	for _, e := range events {
		d.Events = append(d.Events, eventJSON{Kind: e.Kind, Actor: e.Actor, Data: json.RawMessage(e.Data), CreatedAt: e.CreatedAt})
	}
	if d.Fields, err = store.ListFields(ctx, st.DB, id); err != nil {
		return nil, err
	}
	if d.Feedback, err = store.ListFeedback(ctx, st.DB, id); err != nil {
		return nil, err
	}
	d.Fields, d.Feedback = orEmpty(d.Fields), orEmpty(d.Feedback)
	return d, nil
}

// printTicket writes a ticket for a person: each message as people read it, or with
// full as it was received.
func printTicket(w io.Writer, d *ticketDetailJSON, full bool) {
	fmt.Fprintf(w, "Ticket #%d: %s\n", d.ID, d.Subject)
	fmt.Fprintf(w, "Status %s, priority %s, team %s, contact %s\n", d.Status, d.Priority, d.Team, d.Contact)
	if d.Flagged {
		fmt.Fprintf(w, "FLAGGED: %s\n", d.FlagReason)
	}
	fmt.Fprintf(w, "Created %s, updated %s\n", d.CreatedAt.Local().Format(time.RFC1123), d.UpdatedAt.Local().Format(time.RFC1123))
	for _, f := range d.Fields {
		fmt.Fprintf(w, "%s: %s\n", cmp.Or(f.Label, f.Name), f.Value)
	}
	for _, f := range d.Feedback {
		fmt.Fprintf(w, "Feedback: %d of 5 stars", f.Rating)
		if f.Choice != "" {
			fmt.Fprintf(w, ", %q", f.Choice)
		}
		if f.Comment != "" {
			fmt.Fprintf(w, ": %s", f.Comment)
		}
		fmt.Fprintln(w)
	}
	for _, m := range d.Messages {
		fmt.Fprintf(w, "\n--- message %d (%s, %s) from %s at %s\n", m.ID, m.Direction, m.Kind, m.From, m.CreatedAt.Local().Format(time.RFC1123))
		if m.Auth != nil {
			fmt.Fprintf(w, "Auth: dkim=%s spf=%s dmarc=%s aligned=%s\n", m.Auth.DKIM, m.Auth.SPF, m.Auth.DMARC, m.Auth.AlignedDomain)
		}
		text := m.Text
		if full {
			text = m.TextFull
		}
		fmt.Fprintf(w, "Subject: %s\n\n%s\n", m.Subject, strings.TrimSpace(text))
		for _, a := range m.Attachments {
			fmt.Fprintf(w, "[attachment] %s (%s, %d bytes, sha256 %s)\n", a.Filename, a.ContentType, a.Size, a.SHA256)
		}
	}
}

// orEmpty makes a nil list an empty one, so JSON shows [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
