package outbound

import (
	"bytes"
	"crypto/sha256"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
)

func testComposer(t testing.TB) *Composer {
	t.Helper()
	c, err := NewComposer(ComposerConfig{Domain: "example.com", From: "Example Support <support@example.com>",
		Brand: Brand{LogoURL: "https://example.com/logo.png", Color: "#aa3300"}, DefaultLanguage: "en"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryNotificationHasThreadingHeadersAndBothParts(t *testing.T) {
	c := testComposer(t)
	refs := []string{"first@client.example.org", "ack-aaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", "reply-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb@client.example.org"}
	for _, kind := range Kinds {
		for _, lang := range Languages {
			t.Run(kind+"/"+lang, func(t *testing.T) {
				n := Notice{Kind: kind, Lang: lang, TicketID: 42, TicketSubject: "Drucker brennt – printer on fire",
					To: mail.Address{Name: "Alice Müller", Address: "alice@example.org"}, ContactName: "Alice",
					ReplyTo: "support+t42-abc@example.com", InReplyTo: refs[2], References: refs,
					Links:     Links{View: "https://help.example.com/l/view", Close: "https://help.example.com/l/close", Rate: []RateLink{{"5 ★", "https://help.example.com/l/r5"}}},
					AgentName: "Bob", Message: "Please restart it.", OldStatus: "open", NewStatus: "resolved", AutoSubmitted: "auto-generated"}
				m, err := c.Compose(n)
				if err != nil {
					t.Fatal(err)
				}
				msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
				if err != nil {
					t.Fatalf("not a message: %v\n%s", err, m.Raw)
				}
				h := msg.Header
				subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
				if !slices.Contains(AccountKinds, kind) && (!strings.Contains(subject, "[#42]") || !strings.Contains(subject, "printer on fire")) {
					t.Errorf("Subject %q", subject)
				}
				if got := h.Get("Message-ID"); got != "<"+m.MessageID+">" || !strings.HasSuffix(m.MessageID, "@example.com") {
					t.Errorf("Message-ID %q, mail says %q", got, m.MessageID)
				}
				if h.Get("In-Reply-To") != "<"+refs[2]+">" || h.Get("Reply-To") != "support+t42-abc@example.com" ||
					h.Get("Auto-Submitted") != "auto-generated" || h.Get("Content-Language") != lang {
					t.Errorf("headers: %v", h)
				}
				raw := string(m.Raw)
				refsHeader := raw[strings.Index(raw, "References:"):]
				refsHeader = refsHeader[:strings.Index(refsHeader, "\r\nAuto-Submitted")]
				if strings.Contains(refsHeader, "=?") {
					t.Errorf("References encoded: %q", refsHeader)
				}
				for _, line := range strings.Split(refsHeader, "\r\n") {
					if len(line) > 78 {
						t.Errorf("References line of %d chars: %q", len(line), line)
					}
				}
				if got := strings.Join(strings.Fields(h.Get("References")), " "); got != "<"+strings.Join(refs, "> <")+">" {
					t.Errorf("References %q", got)
				}
				env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
				if err != nil {
					t.Fatal(err)
				}
				if env.Text == "" || env.HTML == "" || len(env.Errors) > 0 {
					t.Errorf("text %d bytes, html %d bytes, errors %v", len(env.Text), len(env.HTML), env.Errors)
				}
				if !strings.Contains(env.HTML, "#aa3300") || !strings.Contains(env.HTML, "https://example.com/logo.png") {
					t.Error("HTML part is not branded")
				}
				if kind == KindAck && lang == "de" && !strings.Contains(env.Text, "vielen Dank für Ihre Nachricht") {
					t.Errorf("German acknowledgement is not German:\n%s", env.Text)
				}
				if kind == KindAgentReply && !strings.Contains(env.Text, "Please restart it.") {
					t.Errorf("agent reply lacks the message:\n%s", env.Text)
				}
				if (kind == KindAgentReply || kind == KindStatusChanged) && !strings.Contains(env.Text, "https://help.example.com/l/close") {
					t.Errorf("%s lacks the close link", kind)
				}
				if kind == KindFeedbackRequest && !strings.Contains(env.HTML, "https://help.example.com/l/r5") {
					t.Errorf("feedback request lacks the rating link")
				}
			})
		}
	}
}

func TestAgentReplyCarriesAttachmentsByteForByte(t *testing.T) {
	c := testComposer(t)
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	m, err := c.Compose(Notice{Kind: KindAgentReply, Lang: "en", TicketID: 1, TicketSubject: "x",
		To: mail.Address{Address: "a@example.org"}, AgentName: "Bob", Message: "see attached", FromName: "Bob (Example Support)",
		Attachments: []File{{Filename: "läuft.pdf", ContentType: "application/pdf", Data: data}}})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := mail.ReadMessage(bytes.NewReader(m.Raw))
	if from := msg.Header.Get("From"); !strings.Contains(from, "Bob") || !strings.Contains(from, "<support@example.com>") {
		t.Errorf("From %q: want the agent's name and the mailbox address", from)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	found := len(env.Attachments) == 1 && env.Attachments[0].FileName == "läuft.pdf" &&
		sha256.Sum256(env.Attachments[0].Content) == sha256.Sum256(data) && strings.Contains(env.Text, "see attached")
	if !found {
		t.Errorf("attachment missing or changed:\n%s", m.Raw)
	}
}

func TestTemplatesDirOverridesOneFile(t *testing.T) {
	dir := t.TempDir()
	override := `{{define "subject"}}[#{{.TicketID}}] Got it{{end}}{{define "body"}}Custom body for {{.TicketSubject}}{{end}}`
	if err := writeFile(dir+"/acknowledgement.en.txt", override); err != nil {
		t.Fatal(err)
	}
	c, err := NewComposer(ComposerConfig{Domain: "example.com", From: "s@example.com", TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Compose(Notice{Kind: KindAck, Lang: "en", TicketID: 3, TicketSubject: "hello", To: mail.Address{Address: "a@b.c"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Raw), "Subject: [#3] Got it") || !strings.Contains(string(m.Raw), "Custom body for hello") {
		t.Errorf("override not used:\n%s", m.Raw)
	}
	if err := writeFile(dir+"/closed.de.txt", "{{define \"subject\"}}{{.Broken"); err != nil {
		t.Fatal(err)
	}
	_, err = NewComposer(ComposerConfig{Domain: "example.com", From: "s@example.com", TemplatesDir: dir})
	if err == nil || !strings.Contains(err.Error(), "closed.de.txt") {
		t.Errorf("broken override: %v, want an error naming closed.de.txt", err)
	}
}

func TestLanguageFallsBackToTheDefault(t *testing.T) {
	c := testComposer(t)
	for in, want := range map[string]string{"de-AT": "de", "DE": "de", "fr": "en", "": "en", "en-GB": "en"} {
		if got := c.Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
}

// What Compose fills in for the templates is its own: a caller's Brand, Subject or
// Labels are replaced, and a Message-ID chosen beforehand (ingest's batches) is kept.
func TestComposeFillsInBrandSubjectAndLabels(t *testing.T) {
	c := testComposer(t)
	id := c.NewMessageID()
	m, err := c.Compose(Notice{Kind: KindAck, Lang: "de", TicketID: 7, TicketSubject: "Rechnung",
		To: mail.Address{Address: "kunde@example.org"}, Links: Links{View: "https://help.example.com/l/v"},
		Brand: Brand{Name: "Evil", Color: "#000000"}, Subject: "not this", Labels: Labels{View: "not this"},
		MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID != id || !bytes.Contains(m.Raw, []byte("Message-ID: <"+id+">")) {
		t.Errorf("Message-ID %q, want %q chosen beforehand", m.MessageID, id)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"Evil", "not this", "#000000"} {
		if strings.Contains(env.HTML, bad) || strings.Contains(env.Text, bad) || strings.Contains(env.GetHeader("Subject"), bad) {
			t.Errorf("the caller's %q reached the mail", bad)
		}
	}
	for _, want := range []string{"<title>[#7] Rechnung</title>", "#aa3300", "Ihr Ticket ansehen", "Example Support"} {
		if !strings.Contains(env.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, env.HTML)
		}
	}
}
