package outbound

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

//go:embed templates
var templateFS embed.FS

// Kinds of notification, each a template pair per language.
const (
	KindAck             = "acknowledgement"
	KindAgentReply      = "agent_reply"
	KindStatusChanged   = "status_changed"
	KindClosed          = "closed"
	KindFeedbackRequest = "feedback_request"
	// Mail to agents: a new ticket or customer reply to answer, or why their reply was
	// not sent. Agents read them in the default language.
	KindAgentNotification = "agent_notification"
	KindAgentCommandError = "agent_command_error"
	// KindAgentReplyRefused tells an agent that a reply was not sent because it failed
	// authentication, and what fixes that.
	KindAgentReplyRefused = "agent_reply_refused"
	// KindSLAWarning tells agents a ticket's deadline is near or passed (sla-warnings job).
	KindSLAWarning = "sla_warning"
	// Mail about a customer's portal account (package account), not about a ticket.
	KindAccountVerify = "account_verify"
	KindAccountSignIn = "account_signin"
	KindAccountReset  = "account_reset"
)

// Kinds lists every notification kind; every language must have all of them.
var Kinds = []string{KindAck, KindAgentReply, KindStatusChanged, KindClosed, KindFeedbackRequest,
	KindAgentNotification, KindAgentCommandError, KindAgentReplyRefused, KindSLAWarning,
	KindAccountVerify, KindAccountSignIn, KindAccountReset}

// AccountKinds are the mails about a portal account: no ticket, a single-use link.
var AccountKinds = []string{KindAccountVerify, KindAccountSignIn, KindAccountReset}

// Languages mxdesk ships templates for.
var Languages = []string{"en", "de"}

// Brand is how notifications look.
type Brand struct {
	Name    string
	LogoURL string
	Color   string
}

// ComposerConfig is what the Composer needs from the configuration.
type ComposerConfig struct {
	Domain          string
	From            string // outbound.from
	Brand           Brand
	TemplatesDir    string // overrides, file by file; empty: built-in only
	DefaultLanguage string
}

// Composer builds mxdesk's outgoing messages from the templates. It holds the parsed
// templates and the sender identity; safe for concurrent use.
type Composer struct {
	// mu guards the fields below against Reload (SIGHUP); readers hold it shared.
	mu     sync.RWMutex
	domain string
	from   mail.Address
	brand  Brand
	lang   string
	text   map[string]*texttemplate.Template // kind.lang
	html   map[string]*htmltemplate.Template
	now    func() time.Time
}

// NewComposer parses every template once, built-in or overridden from TemplatesDir, so a
// broken override stops the start with the file's name instead of failing a send.
func NewComposer(cfg ComposerConfig) (*Composer, error) {
	addr, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("outbound.from %q: %w", cfg.From, err)
	}
	c := &Composer{domain: cfg.Domain, from: *addr, brand: cfg.Brand, lang: cfg.DefaultLanguage,
		text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}, now: time.Now}
	if c.brand.Name == "" {
		c.brand.Name = addr.Name
		if c.brand.Name == "" {
			c.brand.Name = addr.Address
		}
	}
	if c.brand.Color == "" {
		c.brand.Color = "#1f6feb"
	}
	if !slices.Contains(Languages, c.lang) {
		c.lang = "en"
	}
	read := func(name string) (string, []byte, error) {
		if cfg.TemplatesDir != "" {
			p := filepath.Join(cfg.TemplatesDir, name)
			b, err := os.ReadFile(p)
			if err == nil {
				return p, b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return p, nil, err
			}
		}
		b, err := templateFS.ReadFile("templates/" + name)
		return "built-in " + name, b, err
	}
	funcs := map[string]any{"status": StatusName}
	_, layout, err := read("layout.html")
	if err != nil {
		return nil, fmt.Errorf("outbound templates: layout.html: %w", err)
	}
	for _, kind := range Kinds {
		for _, lang := range Languages {
			key := kind + "." + lang
			src, body, err := read(key + ".txt")
			if err != nil {
				return nil, fmt.Errorf("outbound templates: %s: %w", src, err)
			}
			tt, err := texttemplate.New(key).Funcs(funcs).Parse(string(body))
			if err != nil {
				return nil, fmt.Errorf("outbound templates: %s: %w", src, err)
			}
			if tt.Lookup("subject") == nil || tt.Lookup("body") == nil {
				return nil, fmt.Errorf("outbound templates: %s: must define \"subject\" and \"body\"", src)
			}
			c.text[key] = tt
			src, body, err = read(key + ".html")
			if err != nil {
				return nil, fmt.Errorf("outbound templates: %s: %w", src, err)
			}
			ht, err := htmltemplate.New(key).Funcs(funcs).Parse(string(layout))
			if err == nil {
				ht, err = ht.Parse(string(body))
			}
			if err != nil {
				return nil, fmt.Errorf("outbound templates: %s: %w", src, err)
			}
			c.html[key] = ht
		}
	}
	return c, nil
}

// From returns the bare sender address, used as the envelope sender.
func (c *Composer) From() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.from.Address
}

// Brand returns the branding notifications use.
func (c *Composer) Brand() Brand {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.brand
}

// Language picks the first of the candidates mxdesk has templates for, else the default.
func (c *Composer) Language(candidates ...string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, l := range candidates {
		l = strings.ToLower(strings.TrimSpace(l))
		if i := strings.IndexAny(l, "-_"); i > 0 {
			l = l[:i]
		}
		if slices.Contains(Languages, l) {
			return l
		}
	}
	return c.lang
}

// NewMessageID returns a fresh Message-ID (without brackets): 128 random bits, so it
// cannot be guessed by anyone who has not received the mail (guarantee 3b).
func (c *Composer) NewMessageID() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.newMessageID()
}

// newMessageID is NewMessageID for a caller that holds c.mu.
func (c *Composer) newMessageID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never happens on Linux; no safe fallback
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])) + "@" + c.domain
}

// RateLink is one button of a feedback request.
type RateLink struct {
	Label string
	URL   string
}

// Links are the signed links a notification carries.
type Links struct {
	View  string
	Close string
	Rate  []RateLink
}

// File is an attachment to send.
type File struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Notice is one notification to one recipient: what the templates need and the headers
// that thread it.
type Notice struct {
	Kind          string
	Lang          string
	TicketID      int64
	TicketSubject string
	Team          string
	To            mail.Address
	ContactName   string
	// FromName replaces the display name of outbound.from (an agent's name); the address
	// stays the mailbox's, never the agent's own.
	FromName     string
	ReplyTo      string
	InReplyTo    string
	References   []string
	Links        Links
	SLA          string
	OutsideHours bool
	AgentName    string
	Message      string
	OldStatus    string
	NewStatus    string
	Attachments  []File
	// For agent notifications: what happened ("new" or "reply"), who the customer is,
	// the ticket's priority and the conversation so far, newest first.
	Event         string
	CustomerName  string
	CustomerEmail string
	Priority      string
	Conversation  []Entry
	// Problems are why an agent's reply was not sent.
	Problems []string
	// Fields are a portal ticket template's values (agent notifications).
	Fields []Field
	// Account mail: the single-use link and how many minutes it works.
	ActionURL    string
	ValidMinutes int
	// AutoSubmitted is the RFC 3834 keyword: auto-replied for the acknowledgement,
	// auto-generated for the others.
	AutoSubmitted string

	// Articles are knowledge-base articles that may answer a new ticket (acknowledgement).
	Articles []Article

	// MessageID is the Message-ID to send under (without brackets), from NewMessageID,
	// for a caller that must know it before composing (ingest composes beside its
	// transaction); empty: a fresh one.
	MessageID string

	// What Compose fills in for the templates ({{.Brand.Color}}, the layout's
	// {{.Subject}} and {{.Labels.View}}); a caller's values are replaced. They are
	// fields of the Notice because the templates' dot is the Notice itself: a struct
	// embedding it made every field a promoted one, which text/template finds by a
	// search that allocates, and methods are looked up by name as slowly.
	Brand   Brand
	Subject string // the rendered subject line
	Labels  Labels // the layout's fixed words, in the notice's language
}

// Field is a custom field of a ticket, as agents read it.
type Field struct {
	Label, Value string
}

// Entry is one message of a conversation shown to agents.
type Entry struct {
	From     string
	When     string
	Text     string
	Internal bool
}

// Labels are the layout's fixed words: the view button and the footer.
type Labels struct{ View, Footer string }

var labelsByLang = map[string]Labels{
	"en": {View: "View your ticket", Footer: "Reply to this message to answer."},
	"de": {View: "Ihr Ticket ansehen", Footer: "Antworten Sie einfach auf diese E-Mail."},
}

var statusNames = map[string]map[string]string{
	"en": {"open": "Open", "in_progress": "In Progress", "resolved": "Resolved", "closed": "Closed"},
	"de": {"open": "Offen", "in_progress": "In Bearbeitung", "resolved": "Gelöst", "closed": "Geschlossen"},
}

// StatusName is a status as a customer reads it, in their language.
func StatusName(lang, status string) string {
	if n, ok := statusNames[lang][status]; ok {
		return n
	}
	return status
}

// Mail is a composed message ready for the outbox.
type Mail struct {
	MessageID string
	From      string // envelope sender
	To        string // envelope recipient
	Raw       []byte
}

// Compose renders a notice into a complete message: multipart/alternative text and
// HTML (inside multipart/mixed when there are attachments), threading headers folded as
// plain ASCII, Auto-Submitted, and a fresh Message-ID.
func (c *Composer) Compose(n Notice) (*Mail, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !slices.Contains(Languages, n.Lang) {
		n.Lang = c.lang
	}
	if strings.TrimSpace(n.TicketSubject) == "" {
		n.TicketSubject = map[string]string{"en": "(no subject)", "de": "(kein Betreff)"}[n.Lang]
	}
	key := n.Kind + "." + n.Lang
	tt, ht := c.text[key], c.html[key]
	if tt == nil || ht == nil {
		return nil, fmt.Errorf("compose: no template %s", key)
	}
	n.Brand, n.Labels, n.Subject = c.brand, labelsByLang[n.Lang], ""
	var subject, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subject, "subject", &n); err != nil {
		return nil, fmt.Errorf("compose %s: subject: %w", key, err)
	}
	n.Subject = strings.Join(strings.Fields(subject.String()), " ")
	if err := tt.ExecuteTemplate(&text, "body", &n); err != nil {
		return nil, fmt.Errorf("compose %s: text: %w", key, err)
	}
	if err := ht.ExecuteTemplate(&html, "layout", &n); err != nil {
		return nil, fmt.Errorf("compose %s: html: %w", key, err)
	}
	id := n.MessageID
	if id == "" {
		id = c.newMessageID()
	}
	from := c.from
	if n.FromName != "" {
		from.Name = n.FromName
	}
	var b bytes.Buffer
	w := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	w("From", from.String())
	w("To", n.To.String())
	w("Subject", mime.QEncoding.Encode("utf-8", n.Subject))
	w("Date", c.now().Format(time.RFC1123Z))
	w("Message-ID", "<"+id+">")
	if n.ReplyTo != "" {
		w("Reply-To", n.ReplyTo)
	}
	if n.InReplyTo != "" {
		w("In-Reply-To", "<"+n.InReplyTo+">")
	}
	if len(n.References) > 0 {
		b.WriteString(FoldIDs("References", n.References))
	}
	if n.AutoSubmitted != "" {
		w("Auto-Submitted", n.AutoSubmitted)
		// Exchange and Outlook honour this and do not send out-of-office replies to us.
		w("X-Auto-Response-Suppress", "All")
	}
	if n.TicketID != 0 {
		w("X-Mxdesk-Ticket", fmt.Sprint(n.TicketID))
	}
	w("X-Mxdesk-Kind", n.Kind)
	w("Content-Language", n.Lang)
	w("MIME-Version", "1.0")
	token := strings.SplitN(id, "@", 2)[0]
	alt := "alt-" + token
	if len(n.Attachments) > 0 {
		mixed := "mix-" + token
		w("Content-Type", `multipart/mixed; boundary="`+mixed+`"`)
		b.WriteString("\r\n--" + mixed + "\r\n")
		b.WriteString(`Content-Type: multipart/alternative; boundary="` + alt + `"` + "\r\n\r\n")
		if err := writeAlternative(&b, alt, text.Bytes(), html.Bytes()); err != nil {
			return nil, fmt.Errorf("compose %s: %w", key, err)
		}
		for _, f := range n.Attachments {
			b.WriteString("\r\n--" + mixed + "\r\n")
			ct := f.ContentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			name := mime.QEncoding.Encode("utf-8", f.Filename)
			b.WriteString("Content-Type: " + mime.FormatMediaType(ct, map[string]string{"name": f.Filename}) + "\r\n")
			if disp := mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}); disp != "" {
				b.WriteString("Content-Disposition: " + disp + "\r\n")
			} else {
				b.WriteString(`Content-Disposition: attachment; filename="` + name + `"` + "\r\n")
			}
			b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
			writeBase64(&b, f.Data)
		}
		b.WriteString("\r\n--" + mixed + "--\r\n")
	} else {
		w("Content-Type", `multipart/alternative; boundary="`+alt+`"`)
		b.WriteString("\r\n")
		if err := writeAlternative(&b, alt, text.Bytes(), html.Bytes()); err != nil {
			return nil, fmt.Errorf("compose %s: %w", key, err)
		}
	}
	return &Mail{MessageID: id, From: c.from.Address, To: n.To.Address, Raw: b.Bytes()}, nil
}

func writeAlternative(b *bytes.Buffer, boundary string, text, html []byte) error {
	for _, p := range []struct {
		ctype string
		body  []byte
	}{{"text/plain", text}, {"text/html", html}} {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("Content-Type: " + p.ctype + "; charset=utf-8\r\n")
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		qp := quotedprintable.NewWriter(b)
		if _, err := qp.Write(crlf(p.body)); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return nil
}

// writeBase64 writes data in 76-character lines (RFC 2045).
func writeBase64(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
}

// crlf turns the templates' LF line ends into CRLF, as SMTP wants them.
func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// FoldIDs writes a header of Message-IDs folded at whitespace into lines of at most 78
// characters, as plain ASCII: RFC 2047-encoding them (as some libraries do for long
// headers) breaks threading in every client.
func FoldIDs(name string, ids []string) string {
	var b strings.Builder
	b.WriteString(name + ":")
	line := len(name) + 1
	for _, id := range ids {
		tok := "<" + id + ">"
		if line+1+len(tok) > 78 && line > len(name)+1 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" " + tok)
		line += 1 + len(tok)
	}
	b.WriteString("\r\n")
	return b.String()
}
