package portal

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// page is what every portal template sees.
type page struct {
	Lang, Title, Color, Brand string
	Stylesheet                string // the stylesheet's URL, versioned by the brand colour
	Logo                      string // the brand logo's URL, when the CSP lets it show
	Heading, Text, Button     string
	CommentLabel              string
	FeedbackID                int64
	Ticket                    *store.Ticket
	StatusName                string
	View                      []viewMessage
	ReplyHint, Original       string
	Notice                    string

	// For the account pages and the header.
	T        map[string]string // the page's strings in its language (texts.go)
	Signed   string            // the signed-in address; empty when signed out
	Accounts bool              // accounts are on: the header offers to sign in
	Flash    string            // what the last POST did
	Form     form
	Data     any  // the view's own data
	KB       bool // the knowledge base is open to this visitor: the home page offers its search
}

// form is what a form page shows again after a refusal.
type form struct {
	Action, Email, Next string
	Error               string // why the last submission was refused, in words
}

// texts are the portal's strings per language.
var texts = map[string]map[string]string{
	"en": {
		"invalid":        "This link is not valid. It may have been cut off or changed; please use the link from the email as it is.",
		"invalid_title":  "Link not valid",
		"expired":        "This link has expired. To reach us about ticket #%d, reply to any email about it.",
		"expired_title":  "Link expired",
		"close_title":    "Close ticket #%d?",
		"close_text":     "If your problem is solved, close the ticket. You can always reopen it by replying to any of our emails.",
		"close_button":   "Close ticket",
		"closed_title":   "Ticket #%d is closed",
		"closed_text":    "Thank you. To reopen it, just reply to any of our emails about it.",
		"used_close":     "This link was already used: ticket #%d was closed with it. To reopen the ticket, reply to any of our emails.",
		"rated_title":    "Thank you for your rating",
		"rated_text":     "We recorded %s for ticket #%d. Would you like to tell us more?",
		"comment_label":  "Your comment (optional)",
		"comment_button": "Send comment",
		"used_rate":      "Your rating for ticket #%d was already recorded. Thank you!",
		"comment_thanks": "Thank you, your comment was recorded.",
		"reply_hint":     "To answer, reply to any email about this ticket.",
		"stars":          "%d of 5 stars",
		"original":       "Original message",
		"outside_hours":  "This ticket arrived outside our working hours; we answer when we are back.",
	},
	"de": {
		"invalid":        "Dieser Link ist ungültig. Vielleicht wurde er abgeschnitten oder verändert; bitte verwenden Sie den Link aus der E-Mail unverändert.",
		"invalid_title":  "Link ungültig",
		"expired":        "Dieser Link ist abgelaufen. Zu Ticket #%d erreichen Sie uns, indem Sie auf eine unserer E-Mails dazu antworten.",
		"expired_title":  "Link abgelaufen",
		"close_title":    "Ticket #%d schließen?",
		"close_text":     "Wenn Ihr Problem gelöst ist, schließen Sie das Ticket. Sie können es jederzeit wieder öffnen, indem Sie auf eine unserer E-Mails antworten.",
		"close_button":   "Ticket schließen",
		"closed_title":   "Ticket #%d ist geschlossen",
		"closed_text":    "Vielen Dank. Um es wieder zu öffnen, antworten Sie einfach auf eine unserer E-Mails dazu.",
		"used_close":     "Dieser Link wurde bereits verwendet: Ticket #%d wurde damit geschlossen. Um es wieder zu öffnen, antworten Sie auf eine unserer E-Mails.",
		"rated_title":    "Vielen Dank für Ihre Bewertung",
		"rated_text":     "Wir haben %s für Ticket #%d gespeichert. Möchten Sie uns mehr erzählen?",
		"comment_label":  "Ihr Kommentar (freiwillig)",
		"comment_button": "Kommentar senden",
		"used_rate":      "Ihre Bewertung für Ticket #%d wurde bereits gespeichert. Vielen Dank!",
		"comment_thanks": "Vielen Dank, Ihr Kommentar wurde gespeichert.",
		"reply_hint":     "Um zu antworten, antworten Sie auf eine E-Mail zu diesem Ticket.",
		"stars":          "%d von 5 Sternen",
		"original":       "Originalnachricht",
		"outside_hours":  "Dieses Ticket kam außerhalb unserer Geschäftszeiten an; wir antworten, sobald wir wieder da sind.",
	},
}

// lang picks the visitor's language from Accept-Language, else the contact's, else English.
func lang(r *http.Request, contactLang string) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag, _, _ = strings.Cut(strings.ToLower(tag), "-")
		if _, ok := texts[tag]; ok {
			return tag
		}
	}
	if _, ok := texts[contactLang]; ok {
		return contactLang
	}
	return "en"
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	b := s.currentBrand()
	p.Color, p.Brand, p.Stylesheet, p.Logo = b.Color, b.Name, b.cssURL, s.logo
	p.Accounts = s.accounts != nil
	p.KB = s.kb.opts.Public || p.Signed != ""
	if p.KB && kbScriptViews[name] {
		w.Header().Set("Content-Security-Policy", s.kbCSP) // the type-ahead (kb.go)
	} else if formScriptViews[name] {
		w.Header().Set("Content-Security-Policy", s.csp+formScripts)
	}
	if p.T == nil {
		p.T = accountTexts[p.Lang]
		if p.T == nil {
			p.T = accountTexts["en"]
		}
	}
	// The security headers are set on every response by protect (security.go).
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.tmpl[name].ExecuteTemplate(w, "layout", p); err != nil {
		s.log.Error("portal: render", "page", name, "err", err)
	}
}

func (s *Server) message(w http.ResponseWriter, status int, l, title, text string) {
	s.render(w, status, "message", page{Lang: l, Title: title, Heading: title, Text: text})
}

// link serves GET and POST /l/{token}: the signed links in notifications. A view link
// shows the ticket; a close link asks for confirmation on GET and closes on POST (mail
// scanners follow links, and must not close tickets); a rating link records the rating
// on GET (one click, as the mail promises) and takes an optional comment by POST.
func (s *Server) link(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := lang(r, "")
	t := texts[l]
	link, err := s.links.Parse(r.PathValue("token"))
	switch {
	case errors.Is(err, ticket.ErrLinkExpired):
		s.message(w, http.StatusGone, l, t["expired_title"], sprintf(t["expired"], link.TicketID))
		return
	case err != nil:
		s.message(w, http.StatusNotFound, l, t["invalid_title"], t["invalid"])
		return
	}
	tk, err := store.GetTicket(ctx, s.st.DB, link.TicketID)
	if errors.Is(err, store.ErrNotFound) {
		s.message(w, http.StatusNotFound, l, t["invalid_title"], t["invalid"])
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	contact, err := store.Contact(ctx, s.st.DB, tk.ContactID)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	l = lang(r, contact.Language)
	t = texts[l]
	if al := r.Header.Get("Accept-Language"); al != "" && contact.Language == "" {
		// The language of their last visit is the next best guess for their mail.
		if err := store.SetContactLanguage(ctx, s.st.DB, contact.ContactID, l, false); err != nil {
			s.log.Warn("portal: record language", "err", err)
		}
	}
	switch link.Action {
	case ticket.ActionView:
		s.viewTicket(ctx, w, l, r.PathValue("token"), tk)
	case ticket.ActionClose:
		s.closeLink(ctx, w, r, l, link, tk)
	case ticket.ActionRate:
		s.rateLink(ctx, w, r, l, link)
	default:
		s.message(w, http.StatusNotFound, l, t["invalid_title"], t["invalid"])
	}
}

func (s *Server) closeLink(ctx context.Context, w http.ResponseWriter, r *http.Request, l string, link ticket.Link, tk *store.Ticket) {
	t := texts[l]
	used, err := store.LinkUsedAt(ctx, s.st.DB, link.Nonce)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	if used != nil {
		s.message(w, http.StatusOK, l, sprintf(t["closed_title"], tk.ID), sprintf(t["used_close"], tk.ID))
		return
	}
	if r.Method != http.MethodPost {
		s.render(w, http.StatusOK, "close", page{Lang: l, Title: sprintf(t["close_title"], tk.ID),
			Heading: sprintf(t["close_title"], tk.ID), Text: t["close_text"], Button: t["close_button"]})
		return
	}
	err = s.tickets.CloseByLink(ctx, link)
	if errors.Is(err, store.ErrLinkUsed) {
		s.message(w, http.StatusOK, l, sprintf(t["closed_title"], tk.ID), sprintf(t["used_close"], tk.ID))
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	s.log.Info("portal: ticket closed by the customer's link", "ticket", tk.ID)
	s.message(w, http.StatusOK, l, sprintf(t["closed_title"], tk.ID), t["closed_text"])
}

func (s *Server) rateLink(ctx context.Context, w http.ResponseWriter, r *http.Request, l string, link ticket.Link) {
	t := texts[l]
	if r.Method == http.MethodPost {
		id, err := strconv.ParseInt(r.PostFormValue("feedback"), 10, 64)
		comment := strings.TrimSpace(r.PostFormValue("comment"))
		if err != nil || len(comment) > 4000 {
			s.message(w, http.StatusBadRequest, l, t["invalid_title"], t["invalid"])
			return
		}
		if err := store.SetFeedbackComment(ctx, s.st.DB, link.TicketID, id, comment); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.message(w, http.StatusNotFound, l, t["invalid_title"], t["invalid"])
				return
			}
			s.fail(w, l, err)
			return
		}
		s.message(w, http.StatusOK, l, t["rated_title"], t["comment_thanks"])
		return
	}
	id, err := s.tickets.Rate(ctx, link)
	if errors.Is(err, store.ErrLinkUsed) {
		s.message(w, http.StatusOK, l, t["rated_title"], sprintf(t["used_rate"], link.TicketID))
		return
	}
	if errors.Is(err, ticket.ErrLinkInvalid) {
		s.message(w, http.StatusNotFound, l, t["invalid_title"], t["invalid"])
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	rating, _ := ticket.RatingOf(link.Arg)
	choice := sprintf(t["stars"], rating)
	for _, o := range ticket.RateOptions {
		if o.Arg == link.Arg {
			choice = "„" + o.Label[l] + "“"
			if l == "en" {
				choice = "\"" + o.Label[l] + "\""
			}
		}
	}
	s.log.Info("portal: rating recorded", "ticket", link.TicketID, "rating", rating, "choice", link.Arg)
	s.render(w, http.StatusOK, "rated", page{Lang: l, Title: t["rated_title"], Heading: t["rated_title"],
		Text: sprintf(t["rated_text"], choice, link.TicketID), FeedbackID: id,
		CommentLabel: t["comment_label"], Button: t["comment_button"]})
}

// fail answers an internal error without detail; the log has it.
func (s *Server) fail(w http.ResponseWriter, l string, err error) {
	s.log.Error("portal: request failed", "err", err)
	title := map[string]string{"en": "Something went wrong", "de": "Etwas ist schiefgegangen"}[l]
	text := map[string]string{"en": "Please try again in a few minutes.", "de": "Bitte versuchen Sie es in einigen Minuten noch einmal."}[l]
	s.message(w, http.StatusInternalServerError, l, title, text)
}
