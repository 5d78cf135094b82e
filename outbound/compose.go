package outbound

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base32"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates
var templateFS embed.FS

// Composer builds mxdesk's outgoing messages. It holds the parsed templates and the
// sender identity; safe for concurrent use.
type Composer struct {
	domain string
	from   mail.Address
	text   *texttemplate.Template
	html   *htmltemplate.Template
	now    func() time.Time
}

// NewComposer parses the embedded templates. from is the From header of every mail
// (outbound.from), domain the right-hand side of generated Message-IDs.
func NewComposer(domain, from string) (*Composer, error) {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("outbound.from %q: %w", from, err)
	}
	tt, err := texttemplate.ParseFS(templateFS, "templates/*.txt")
	if err != nil {
		return nil, fmt.Errorf("outbound templates: %w", err)
	}
	ht, err := htmltemplate.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("outbound templates: %w", err)
	}
	return &Composer{domain: domain, from: *addr, text: tt, html: ht, now: time.Now}, nil
}

// From returns the bare sender address, used as the envelope sender.
func (c *Composer) From() string { return c.from.Address }

// Brand is the name mail is signed with: the display name of outbound.from.
func (c *Composer) Brand() string {
	if c.from.Name != "" {
		return c.from.Name
	}
	return c.from.Address
}

// NewMessageID returns a fresh Message-ID (without brackets): 128 random bits, so it
// cannot be guessed by anyone who has not received the mail (guarantee 3b).
func (c *Composer) NewMessageID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never happens on Linux; no safe fallback
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])) + "@" + c.domain
}

// Ack is what the acknowledgement of a new ticket says.
type Ack struct {
	TicketID     int64
	Subject      string // the customer's subject, without tag
	Team         string
	ContactName  string
	ContactEmail string
	ReplyTo      string   // the ticket's signed reply address
	InReplyTo    string   // the customer's Message-ID, if any
	References   []string // the customer's References
}

// Mail is a composed message ready for the outbox.
type Mail struct {
	MessageID string
	From      string // envelope sender
	To        string // envelope recipient
	Raw       []byte
}

// Acknowledgement composes the auto-reply to a new ticket: subject "[#N] subject",
// Reply-To the signed address, threaded under the customer's message, and
// Auto-Submitted: auto-replied (RFC 3834) so well-behaved autoresponders stay quiet.
func (c *Composer) Acknowledgement(a Ack) (*Mail, error) {
	subject := a.Subject
	if strings.TrimSpace(subject) == "" {
		subject = "(no subject)"
	}
	data := map[string]any{
		"TicketID": a.TicketID, "Subject": subject, "Team": a.Team,
		"ContactName": a.ContactName, "Brand": c.Brand(),
	}
	refs := a.References
	if a.InReplyTo != "" {
		refs = append(append([]string(nil), refs...), a.InReplyTo)
	}
	return c.compose("ack", data, header{
		to:         mail.Address{Name: a.ContactName, Address: a.ContactEmail},
		subject:    fmt.Sprintf("[#%d] %s", a.TicketID, subject),
		replyTo:    a.ReplyTo,
		inReplyTo:  a.InReplyTo,
		references: refs,
		autoSubmit: "auto-replied",
		ticketID:   a.TicketID,
	})
}

type header struct {
	to         mail.Address
	subject    string
	replyTo    string
	inReplyTo  string
	references []string
	autoSubmit string
	ticketID   int64
}

func (c *Composer) compose(name string, data any, h header) (*Mail, error) {
	var text, html bytes.Buffer
	if err := c.text.ExecuteTemplate(&text, name+".txt", data); err != nil {
		return nil, fmt.Errorf("compose %s: text: %w", name, err)
	}
	if err := c.html.ExecuteTemplate(&html, name+".html", data); err != nil {
		return nil, fmt.Errorf("compose %s: html: %w", name, err)
	}
	id := c.NewMessageID()
	var b bytes.Buffer
	w := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	w("From", c.from.String())
	w("To", h.to.String())
	w("Subject", mime.QEncoding.Encode("utf-8", h.subject))
	w("Date", c.now().Format(time.RFC1123Z))
	w("Message-ID", "<"+id+">")
	if h.replyTo != "" {
		w("Reply-To", h.replyTo)
	}
	if h.inReplyTo != "" {
		w("In-Reply-To", "<"+h.inReplyTo+">")
	}
	if len(h.references) > 0 {
		b.WriteString(FoldIDs("References", h.references))
	}
	if h.autoSubmit != "" {
		w("Auto-Submitted", h.autoSubmit)
		// Exchange and Outlook honour this and do not send out-of-office replies to us.
		w("X-Auto-Response-Suppress", "All")
	}
	if h.ticketID != 0 {
		w("X-Mxdesk-Ticket", fmt.Sprint(h.ticketID))
	}
	boundary := "mxdesk-" + strings.SplitN(id, "@", 2)[0]
	w("MIME-Version", "1.0")
	w("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, p := range []struct {
		ctype string
		body  []byte
	}{{"text/plain", text.Bytes()}, {"text/html", html.Bytes()}} {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("Content-Type: " + p.ctype + "; charset=utf-8\r\n")
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write(crlf(p.body)); err != nil {
			return nil, fmt.Errorf("compose %s: %w", name, err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("compose %s: %w", name, err)
		}
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return &Mail{MessageID: id, From: c.from.Address, To: h.to.Address, Raw: b.Bytes()}, nil
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
