package ingest

import (
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/text/encoding/japanese"

	"github.com/mxdesk/mxdesk/threading"
)

// Parsed is what ingest needs of a message, whatever state its MIME was in.
type Parsed struct {
	From        mail.Address
	To, Cc      []mail.Address
	Subject     string
	MessageID   string
	InReplyTo   []string
	References  []string
	Text        string
	HTML        string // sanitized
	Attachments []Part
	Header      func(name string) string
	ContentType string
	Errors      []string
}

// Part is an attachment or inline image with its decoded bytes.
type Part struct {
	Filename    string
	ContentType string
	ContentID   string
	Inline      bool
	Data        []byte
}

// Parser parses messages. It holds the HTML policy, which is built once.
type Parser struct {
	policy *bluemonday.Policy
	opts   []enmime.Option
}

// NewParser returns a Parser.
func NewParser() *Parser {
	p := bluemonday.UGCPolicy()
	// Inline images are referenced as cid: until the portal rewrites them.
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	return &Parser{
		policy: p,
		// Detection only where a part declares no charset: running the detector on every
		// part costs ~90 % of parse time and second-guesses correct labels.
		opts: []enmime.Option{enmime.DisableCharacterDetection(true), enmime.SkipMalformedParts(false)},
	}
}

// Parse never fails: a message enmime cannot read is kept with its headers scanned by
// hand and its body as text, and the reason in Errors (guarantee 7). Every string it
// returns is valid UTF-8 without NUL bytes, so it can be stored in a TEXT column.
func (p *Parser) Parse(raw []byte) *Parsed {
	pm := p.parse(raw)
	pm.clean()
	return pm
}

func (p *Parser) parse(raw []byte) (pm *Parsed) {
	defer func() {
		if r := recover(); r != nil {
			pm = p.fallback(raw, fmt.Sprintf("parser panic: %v", r))
		}
	}()
	raw = stripMboxFrom(bareCRToLF(raw))
	env, err := enmime.NewParser(p.opts...).ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return p.fallback(raw, err.Error())
	}
	return p.fromEnvelope(env)
}

// ParseStream is Parse for a message too large to hold whole: enmime reads it from the
// reader open returns, so only its decoded parts are in memory. It is for messages smtpd
// accepted, whose line endings are CRLF already (bare CR and LF are refused there) and
// which start with a header, not an mbox separator. Should enmime fail, the message is
// read whole once for the fallback, as Parse would have.
func (p *Parser) ParseStream(open func() (io.Reader, error)) (pm *Parsed) {
	whole := func(why string) *Parsed {
		r, err := open()
		if err != nil {
			return p.fallback(nil, why+"; reading it again: "+err.Error())
		}
		raw, err := io.ReadAll(r)
		if err != nil {
			return p.fallback(raw, why+"; reading it again: "+err.Error())
		}
		return p.fallback(raw, why)
	}
	defer func() {
		if r := recover(); r != nil {
			pm = whole(fmt.Sprintf("parser panic: %v", r))
		}
		pm.clean()
	}()
	r, err := open()
	if err != nil {
		return whole(err.Error())
	}
	env, err := enmime.NewParser(p.opts...).ReadEnvelope(r)
	if err != nil {
		return whole(err.Error())
	}
	return p.fromEnvelope(env)
}

// fromEnvelope takes what ingest needs from enmime's envelope.
func (p *Parser) fromEnvelope(env *enmime.Envelope) *Parsed {
	pm := &Parsed{
		Subject:     undeclaredISO2022JP(env.GetHeader("Subject")),
		MessageID:   threading.CleanMessageID(env.GetHeader("Message-ID")),
		InReplyTo:   threading.MessageIDs(env.GetHeader("In-Reply-To")),
		References:  threading.MessageIDs(env.GetHeader("References")),
		Text:        undeclaredISO2022JP(env.Text),
		Header:      env.GetHeader,
		ContentType: env.Root.ContentType,
	}
	if env.HTML != "" {
		pm.HTML = p.policy.Sanitize(undeclaredISO2022JP(env.HTML))
	}
	if from, err := env.AddressList("From"); err == nil && len(from) > 0 {
		pm.From = *from[0]
	} else if a := looseAddress(env.GetHeader("From")); a != "" {
		pm.From = mail.Address{Address: a}
	}
	pm.To = addressList(env, "To")
	pm.Cc = addressList(env, "Cc")
	for _, parts := range [][]*enmime.Part{env.Attachments, env.Inlines, env.OtherParts} {
		for _, part := range parts {
			pm.Attachments = append(pm.Attachments, Part{
				Filename:    part.FileName,
				ContentType: part.ContentType,
				ContentID:   part.ContentID,
				Inline:      part.Disposition == "inline" || part.ContentID != "",
				Data:        part.Content,
			})
		}
	}
	for _, e := range env.Errors {
		pm.Errors = append(pm.Errors, e.Error())
	}
	pm.From.Address = strings.ToLower(pm.From.Address)
	return pm
}

// addressList reads an address header, tolerating the malformed lists real clients send.
func addressList(env *enmime.Envelope, name string) []mail.Address {
	list, err := env.AddressList(name)
	if err != nil {
		return nil
	}
	out := make([]mail.Address, 0, len(list))
	for _, a := range list {
		out = append(out, mail.Address{Name: a.Name, Address: strings.ToLower(a.Address)})
	}
	return out
}

// looseAddress digs an address out of a From header net/mail refuses.
func looseAddress(h string) string {
	if i, j := strings.LastIndexByte(h, '<'), strings.LastIndexByte(h, '>'); i >= 0 && j > i {
		h = h[i+1 : j]
	}
	for _, f := range strings.Fields(h) {
		if strings.Count(f, "@") == 1 {
			return strings.ToLower(strings.Trim(f, "<>,;\"'"))
		}
	}
	return ""
}

// stripMboxFrom drops a leading mbox "From " separator line, which files exported from
// mail archives (and the corpus) carry and which is not a header.
func stripMboxFrom(raw []byte) []byte {
	if !bytes.HasPrefix(raw, []byte("From ")) {
		return raw
	}
	if i := bytes.IndexByte(raw, '\n'); i >= 0 {
		return raw[i+1:]
	}
	return raw
}

// fallback keeps what can be kept of a message enmime refused.
func (p *Parser) fallback(raw []byte, why string) *Parsed {
	head, body := raw, []byte(nil)
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 {
			head, body = raw[:i], raw[i+len(sep):]
			break
		}
	}
	headers := map[string]string{}
	var last string
	for _, line := range strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n") {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && last != "" {
			headers[last] += " " + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.ToLower(strings.TrimSpace(k))
		if _, seen := headers[last]; !seen {
			headers[last] = strings.TrimSpace(v)
		}
	}
	get := func(name string) string { return headers[strings.ToLower(name)] }
	text := string(body)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	pm := &Parsed{
		Subject:    undeclaredISO2022JP(get("Subject")),
		MessageID:  threading.CleanMessageID(get("Message-ID")),
		InReplyTo:  threading.MessageIDs(get("In-Reply-To")),
		References: threading.MessageIDs(get("References")),
		Text:       undeclaredISO2022JP(text),
		Header:     get,
		Errors:     []string{"unparsable message, kept raw: " + why},
	}
	if a, err := mail.ParseAddress(get("From")); err == nil {
		pm.From = mail.Address{Name: a.Name, Address: strings.ToLower(a.Address)}
	} else {
		pm.From = mail.Address{Address: looseAddress(get("From"))}
	}
	return pm
}

// bareCRToLF turns the lone-CR line ends of classic Mac OS files into LF. enmime (and
// net/textproto) only split lines at LF, so such a message is one endless header line,
// and the last <...> in it (the Message-ID, say) would be taken for the sender. Only a
// message whose first line end is a lone CR is touched: stray CRs inside the body of an
// ordinary message ("\r\r\n" in some bounces) stay as they are.
func bareCRToLF(raw []byte) []byte {
	i := bytes.IndexAny(raw, "\r\n")
	if i < 0 || raw[i] != '\r' || (i+1 < len(raw) && raw[i+1] == '\n') {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for j, c := range raw {
		if c == '\r' && (j+1 == len(raw) || raw[j+1] != '\n') {
			c = '\n'
		}
		out = append(out, c)
	}
	return out
}

// undeclaredISO2022JP decodes ISO-2022-JP text that nobody labelled: a body part with no
// charset parameter, or a raw (not RFC 2047-encoded) Subject, as Japanese mailers sent
// for years (Zammad#2498). enmime leaves both as escape sequences: it only detects a
// charset on parts of 100 runes or more, and never in headers. ISO-2022-JP is 7-bit and
// announces itself with ESC $ B (or ESC $ @), so the guess cannot misfire on other text.
func undeclaredISO2022JP(s string) string {
	if !strings.Contains(s, "\x1b$B") && !strings.Contains(s, "\x1b$@") {
		return s
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return s
		}
	}
	out, err := japanese.ISO2022JP.NewDecoder().String(s)
	if err != nil {
		return s
	}
	return out
}

// clean makes every string ingest stores valid UTF-8 without NUL bytes. PostgreSQL
// refuses both in TEXT columns, and a message that can never be inserted would stay
// failed in the spool forever; the raw message keeps the original bytes.
func (pm *Parsed) clean() {
	for _, s := range []*string{&pm.From.Name, &pm.From.Address, &pm.Subject, &pm.MessageID,
		&pm.Text, &pm.HTML, &pm.ContentType} {
		*s = storable(*s)
	}
	for _, list := range [][]string{pm.InReplyTo, pm.References, pm.Errors} {
		for i := range list {
			list[i] = storable(list[i])
		}
	}
	for _, list := range [][]mail.Address{pm.To, pm.Cc} {
		for i := range list {
			list[i].Name, list[i].Address = storable(list[i].Name), storable(list[i].Address)
		}
	}
	for i := range pm.Attachments {
		a := &pm.Attachments[i]
		a.Filename, a.ContentType, a.ContentID = storable(a.Filename), storable(a.ContentType), storable(a.ContentID)
	}
}

// storable replaces invalid UTF-8 and NUL bytes with U+FFFD.
func storable(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
