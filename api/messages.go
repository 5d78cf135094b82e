package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// messageList is the answer of GET /tickets/{id}/messages.
type messageList struct {
	Data []Message `json:"data"`
}

// internalKind reports the messages a customer never sees.
func internalKind(kind string) bool {
	return kind == ticket.MsgNote || kind == ticket.MsgAgentRefused
}

// toMessage shapes a stored message. text is what people read (quoted history and
// signature stripped from customers' mail; an agent's text is already what they meant),
// text_full the whole text as it came, html the sanitised HTML part (sanitised when
// it was stored).
func toMessage(m *store.Message, atts []store.Attachment) Message {
	out := Message{ID: m.ID, Direction: m.Direction, Kind: m.Kind, Internal: internalKind(m.Kind),
		From: Address{Email: m.FromAddr, Name: m.FromName}, To: []string{}, Cc: []string{},
		Subject: m.Subject, MessageID: m.MessageID, Text: m.Text, TextFull: m.Text, HTML: m.HTML,
		Auth: mailauth.Parse(m.AuthResults), Attachments: []Attachment{}, CreatedAt: m.CreatedAt.UTC()}
	if m.Kind == ticket.MsgCustomer && !threading.IsForward(m.Subject) {
		out.Text = threading.StripText(m.Text)
	}
	_ = json.Unmarshal([]byte(m.ToJSON), &out.To)
	_ = json.Unmarshal([]byte(m.CcJSON), &out.Cc)
	if out.To == nil {
		out.To = []string{}
	}
	if out.Cc == nil {
		out.Cc = []string{}
	}
	for _, a := range atts {
		out.Attachments = append(out.Attachments, Attachment{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType,
			Size: a.Size, Inline: a.Inline, SHA256: a.SHA256, URL: Prefix + "/attachments/" + strconv.FormatInt(a.ID, 10)})
	}
	return out
}

// listMessages: GET /tickets/{id}/messages, oldest first, notes included and marked.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := resourceID(w, r, "ticket")
	if !ok {
		return
	}
	ctx := r.Context()
	if _, err := s.scopedTicket(ctx, p, id); errors.Is(err, store.ErrNotFound) {
		notFound(w, "ticket")
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	msgs, err := store.ListMessages(ctx, s.st.DB, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	atts, err := store.ListAttachments(ctx, s.st.DB, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := messageList{Data: make([]Message, 0, len(msgs))}
	for i := range msgs {
		out.Data = append(out.Data, toMessage(&msgs[i], atts[msgs[i].ID]))
	}
	writeJSON(w, http.StatusOK, out)
}

// getAttachment: GET /attachments/{id}, the bytes as they came, always as a download
// (never rendered by a browser that follows the link).
func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := resourceID(w, r, "attachment")
	if !ok {
		return
	}
	ctx := r.Context()
	a, _, teamID, err := store.AttachmentTicket(ctx, s.st.DB, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !p.scope.Has(teamID) {
		notFound(w, "attachment")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := store.OpenBlob(ctx, s.st.DB, a.SHA256)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ct := a.ContentType
	if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename})
	if disp == "" || a.Filename == "" {
		disp = "attachment" // a name FormatMediaType cannot write (control characters): none
	}
	h.Set("Content-Disposition", disp)
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("ETag", `"`+a.SHA256+`"`)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, body); err != nil {
		s.log.Warn("api: attachment cut short", "attachment", id, "err", err)
	}
}
