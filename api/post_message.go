package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// maxText bounds a reply's or note's text: a mail body, not a document.
const maxText = 256 << 10

// newMessage is the body of POST /tickets/{id}/messages.
type newMessage struct {
	Type   string `json:"type"`
	Body   string `json:"body"`
	Status string `json:"status,omitempty"`
	// Files are the multipart attachments; only their names and digests take part in
	// the request's identity for Idempotency-Key.
	Files []upload `json:"files,omitempty"`
}

type upload struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	SHA256      string `json:"sha256"`
	data        []byte
}

func (m *newMessage) validate() []FieldError {
	var errs []FieldError
	if m.Type != "reply" && m.Type != "note" {
		errs = append(errs, FieldError{Field: "type", Message: "must be reply or note"})
	}
	if strings.TrimSpace(m.Body) == "" {
		errs = append(errs, FieldError{Field: "body", Message: "must not be empty"})
	} else if len(m.Body) > maxText {
		errs = append(errs, FieldError{Field: "body", Message: fmt.Sprintf("at most %d bytes", maxText)})
	}
	if m.Status != "" && !ticket.ValidStatus(m.Status) {
		errs = append(errs, FieldError{Field: "status", Message: "must be open, in_progress, resolved or closed"})
	}
	return errs
}

// readMultipart reads a multipart/form-data body: the fields type, body and status,
// and files under attachments. Anything else is refused, as an unknown JSON field is.
func (s *Server) readMultipart(w http.ResponseWriter, r *http.Request, m *newMessage) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		badRequest(w, "malformed multipart body: "+err.Error())
		return false
	}
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return multipartError(w, err)
		}
		name := part.FormName()
		if part.FileName() != "" {
			if name != "attachments" {
				badRequest(w, fmt.Sprintf("file field %q: files go under attachments", name))
				return false
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return multipartError(w, err)
			}
			ct := part.Header.Get("Content-Type")
			if ct == "" {
				ct = "application/octet-stream"
			}
			sum := sha256.Sum256(data)
			m.Files = append(m.Files, upload{Filename: part.FileName(), ContentType: ct, SHA256: hex.EncodeToString(sum[:]), data: data})
			continue
		}
		var dst *string
		switch name {
		case "type":
			dst = &m.Type
		case "body":
			dst = &m.Body
		case "status":
			dst = &m.Status
		default:
			badRequest(w, fmt.Sprintf("unknown field %q", name))
			return false
		}
		if seen[name] {
			badRequest(w, fmt.Sprintf("field %q given twice", name))
			return false
		}
		seen[name] = true
		b, err := io.ReadAll(io.LimitReader(part, maxText+1))
		if err != nil {
			return multipartError(w, err)
		}
		*dst = string(b)
	}
}

func multipartError(w http.ResponseWriter, err error) bool {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, http.StatusRequestEntityTooLarge, probTooLarge, fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit))
		return false
	}
	badRequest(w, "malformed multipart body: "+err.Error())
	return false
}

// postMessage: POST /tickets/{id}/messages, a reply to the customer or a note.
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := resourceID(w, r, "ticket")
	if !ok {
		return
	}
	var in newMessage
	switch mediaType(r) {
	case "application/json":
		if !s.readJSON(w, r, &in) {
			return
		}
		if in.Files != nil {
			badRequest(w, `unknown field "files": attachments are sent as multipart/form-data`)
			return
		}
	case "multipart/form-data":
		if !s.readMultipart(w, r, &in) {
			return
		}
	default:
		writeProblem(w, http.StatusUnsupportedMediaType, probContentType, "send application/json, or multipart/form-data with attachments")
		return
	}
	if errs := in.validate(); len(errs) > 0 {
		invalid(w, errs...)
		return
	}
	agent, err := s.agentOf(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	post := ticket.AgentPost{Agent: agent, Note: in.Type == "note", Text: in.Body, Status: in.Status}
	for _, f := range in.Files {
		post.Attachments = append(post.Attachments, ticket.File{Filename: f.Filename, ContentType: f.ContentType, Data: f.data})
	}
	s.write(w, r, p, in, func(ctx context.Context, tx *sqlx.Tx) (answer, error) {
		tk, err := store.LockTicket(ctx, tx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !p.scope.Has(tk.TeamID) {
			return answer{}, errNotFound("ticket")
		}
		if err != nil {
			return answer{}, err
		}
		msgID, err := s.tickets.PostAsAgent(ctx, tx, id, post)
		if err != nil {
			return answer{}, err
		}
		m, err := store.MessageOfTicket(ctx, tx, id, msgID)
		if err != nil {
			return answer{}, err
		}
		atts, err := store.ListAttachments(ctx, tx, id)
		if err != nil {
			return answer{}, err
		}
		return answer{status: http.StatusCreated, body: toMessage(m, atts[msgID])}, nil
	})
}
