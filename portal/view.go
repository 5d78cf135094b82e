package portal

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/microcosm-cc/bluemonday"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// shownKind says whether a customer sees a message in full, with its attachments: the
// conversation; never internal notes or refused agent mail. Automatic replies show
// folded, without attachments.
func shownKind(kind string) bool { return kind == "customer" || kind == "agent" }

// viewMessage is one message on the ticket page.
type viewMessage struct {
	From, When  string
	Out         bool
	Folded      bool          // an automatic reply, collapsed
	HTML        template.HTML // sanitized, quoted history stripped, inline images in place
	Text        string        // when there is no HTML
	RawURL      string        // the full original, for customer messages
	Attachments []viewAttachment
}

type viewAttachment struct {
	Name, URL string
	Size      string
}

var cidRef = regexp.MustCompile(`(?i)(src\s*=\s*["']?)cid:([^"'\s>]+)`)

func (s *Server) viewTicket(ctx context.Context, w http.ResponseWriter, l, token string, tk *store.Ticket) {
	base := "/l/" + token
	shown, _, err := s.conversation(ctx, tk, base+"/a/", func(id int64) string { return base + "/m/" + strconv.FormatInt(id, 10) + "/raw" })
	if err != nil {
		s.fail(w, l, err)
		return
	}
	p := page{Lang: l, Title: sprintf("#%d %s", tk.ID, tk.Subject), Ticket: tk,
		StatusName: outbound.StatusName(l, tk.Status), View: shown, ReplyHint: texts[l]["reply_hint"],
		Original: texts[l]["original"]}
	if tk.OutsideHours {
		p.Notice = texts[l]["outside_hours"]
	}
	s.render(w, http.StatusOK, "ticket", p)
}

// conversation builds what a customer sees of a ticket, oldest first: the customer's
// and the agents' messages, quoted history stripped, inline images in place (served
// under attBase + id), other attachments as downloads, the original of a customer's
// message at rawURL(id). It also returns the newest message's id.
func (s *Server) conversation(ctx context.Context, tk *store.Ticket, attBase string, rawURL func(int64) string) ([]viewMessage, int64, error) {
	msgs, err := store.ListMessages(ctx, s.st.DB, tk.ID)
	if err != nil {
		return nil, 0, err
	}
	atts, err := store.ListAttachments(ctx, s.st.DB, tk.ID)
	if err != nil {
		return nil, 0, err
	}
	var shown []viewMessage
	var newest int64
	for _, m := range msgs {
		if m.Kind == ticket.MsgAuto {
			// An autoresponder's answer (out of office): shown folded, text only.
			from := m.FromName
			if from == "" {
				from = m.FromAddr
			}
			shown = append(shown, viewMessage{From: from, When: s.when(m.CreatedAt), Folded: true, Text: threading.StripText(m.Text)})
			continue
		}
		if !shownKind(m.Kind) {
			continue
		}
		newest = max(newest, m.ID)
		vm := viewMessage{From: m.FromName, When: s.when(m.CreatedAt), Out: m.Kind == "agent"}
		if vm.From == "" {
			vm.From = m.FromAddr
		}
		if m.Kind == "agent" {
			vm.From += " (" + s.currentBrand().Name + ")"
		}
		byCID := map[string]int64{}
		for _, a := range atts[m.ID] {
			if a.ContentID != "" {
				byCID[strings.Trim(a.ContentID, "<>")] = a.ID
			}
		}
		switch {
		case m.HTML != "" && m.Kind == "customer":
			h := threading.StripHTML(m.HTML)
			// Inline images show where the sender put them, served from this ticket only.
			h = cidRef.ReplaceAllStringFunc(h, func(ref string) string {
				sub := cidRef.FindStringSubmatch(ref)
				if id, ok := byCID[sub[2]]; ok {
					return sub[1] + attBase + strconv.FormatInt(id, 10)
				}
				return sub[1]
			})
			vm.HTML = template.HTML(s.policy.Sanitize(h))
		default:
			vm.Text = ticket.ReadableText(&m)
		}
		if m.Kind == "customer" && m.RawSHA256 != nil {
			vm.RawURL = rawURL(m.ID)
		}
		for _, a := range atts[m.ID] {
			u := attBase + strconv.FormatInt(a.ID, 10)
			if a.ContentID != "" && strings.Contains(string(vm.HTML), u) {
				continue // already shown in place
			}
			name := a.Filename
			if name == "" {
				name = "attachment-" + strconv.FormatInt(a.ID, 10)
			}
			vm.Attachments = append(vm.Attachments, viewAttachment{Name: name, URL: u, Size: humanSize(a.Size)})
		}
		shown = append(shown, vm)
	}
	return shown, newest, nil
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// linkFile serves an attachment or a customer's original message through a view link:
// only files of that link's ticket, and only of messages the customer may see; anything
// else is a 404, not a 403, so ids reveal nothing (guarantee 6).
func (s *Server) linkFile(w http.ResponseWriter, r *http.Request) {
	l := lang(r, "")
	t := texts[l]
	link, err := s.links.Parse(r.PathValue("token"))
	if errors.Is(err, ticket.ErrLinkExpired) {
		s.message(w, http.StatusGone, l, t["expired_title"], sprintf(t["expired"], link.TicketID))
		return
	}
	id, perr := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || perr != nil || link.Action != ticket.ActionView {
		s.message(w, http.StatusNotFound, l, t["invalid_title"], t["invalid"])
		return
	}
	s.sendFile(w, r, l, link.TicketID, id, strings.HasSuffix(r.URL.Path, "/raw"), func() {
		s.message(w, http.StatusNotFound, l, t["invalid_title"], t["invalid"])
	})
}

// sendFile serves an attachment (or, raw, a customer's original message) of a ticket the
// caller has checked the customer may see: only files of that ticket, and only of
// messages the customer may see; anything else is notFound (a 404, never a 403, so ids
// reveal nothing).
func (s *Server) sendFile(w http.ResponseWriter, r *http.Request, l string, ticketID, id int64, raw bool, notFound func()) {
	ctx := r.Context()
	var body io.Reader
	var ctype, name, length string
	if raw {
		m, err := store.MessageOfTicket(ctx, s.st.DB, ticketID, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && (m.Kind != "customer" || m.RawSHA256 == nil) {
			notFound()
			return
		}
		if err != nil {
			s.fail(w, l, err)
			return
		}
		if body, err = store.OpenBlob(ctx, s.st.DB, *m.RawSHA256); err != nil {
			s.fail(w, l, err)
			return
		}
		ctype, name = "message/rfc822", fmt.Sprintf("ticket-%d-message-%d.eml", ticketID, m.ID)
	} else {
		a, kind, err := store.AttachmentOfTicket(ctx, s.st.DB, ticketID, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !shownKind(kind) {
			notFound()
			return
		}
		if err != nil {
			s.fail(w, l, err)
			return
		}
		if body, err = store.OpenBlob(ctx, s.st.DB, a.SHA256); err != nil {
			s.fail(w, l, err)
			return
		}
		ctype, name, length = a.ContentType, a.Filename, strconv.FormatInt(a.Size, 10)
	}
	// Images show inline; everything else downloads, so no customer-sent HTML or SVG
	// ever runs in the portal's origin.
	disposition := "attachment"
	if mt, _, _ := mime.ParseMediaType(ctype); mt == "image/png" || mt == "image/jpeg" || mt == "image/gif" || mt == "image/webp" {
		disposition = "inline"
	} else if ctype != "message/rfc822" {
		ctype = "application/octet-stream"
	}
	if name == "" {
		name = "attachment"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	if length != "" {
		w.Header().Set("Content-Length", length)
	}
	// A chunk at a time (OpenBlob): a 25 MB attachment is never whole in memory.
	if _, err := io.Copy(w, body); err != nil {
		s.log.Warn("portal: sending a file", "ticket", ticketID, "id", id, "err", err)
	}
}

// newPolicy is the sanitizer for customer HTML shown on the ticket page.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowRelativeURLs(true)
	return p
}
