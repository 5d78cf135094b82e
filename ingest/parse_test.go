package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// attachmentBytes is a binary file with every byte value, so a decoder that mangles
// line ends, NULs or high bytes shows up in the hash.
func attachmentBytes() []byte {
	b := make([]byte, 5000)
	for i := range b {
		b[i] = byte(i*31 + i/256)
	}
	return b
}

// base64Lines encodes b as a MIME body: 76-character lines ending in eol.
func base64Lines(b []byte, eol string) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 76 {
		sb.WriteString(enc[:76] + eol)
		enc = enc[76:]
	}
	sb.WriteString(enc + eol)
	return sb.String()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// jis encodes s as ISO-2022-JP, the 7-bit Japanese mail encoding.
func jis(t testing.TB, s string) string {
	t.Helper()
	out, err := japanese.ISO2022JP.NewEncoder().String(s)
	if err != nil {
		t.Fatalf("encode %q as ISO-2022-JP: %v", s, err)
	}
	return out
}

// crlf turns a message written with \n into the CRLF form SMTP delivers.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

const plainMessage = `From: Alice Example <Alice@Example.ORG>
To: Support <support@example.com>
Cc: bob@example.net
Subject: Printer on fire
Date: Mon, 1 Jan 2024 10:00:00 +0000
Message-ID: <plain-1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello,
the printer is on fire. Café.
`

func TestParseReadsWhatIngestNeeds(t *testing.T) {
	att := attachmentBytes()
	const jaSubject = "お問い合わせ"
	const jaBody = "こんにちは、請求書について質問があります。"
	manyRefs := make([]string, 60)
	for i := range manyRefs {
		manyRefs[i] = fmt.Sprintf("<ref-%02d.%d@lists.example.net>", i, i*7919)
	}

	tests := []struct {
		name  string
		raw   string
		check func(t *testing.T, pm *Parsed)
	}{
		{
			name: "a plain text message gives sender, recipients, subject, ids and body",
			raw:  crlf(plainMessage),
			check: func(t *testing.T, pm *Parsed) {
				if pm.From.Address != "alice@example.org" || pm.From.Name != "Alice Example" {
					t.Errorf("From = %+v, want alice@example.org (lower case) named Alice Example", pm.From)
				}
				if len(pm.To) != 1 || pm.To[0].Address != "support@example.com" {
					t.Errorf("To = %+v", pm.To)
				}
				if len(pm.Cc) != 1 || pm.Cc[0].Address != "bob@example.net" {
					t.Errorf("Cc = %+v", pm.Cc)
				}
				if pm.Subject != "Printer on fire" {
					t.Errorf("Subject = %q", pm.Subject)
				}
				if pm.MessageID != "plain-1@example.org" {
					t.Errorf("MessageID = %q, want it without brackets", pm.MessageID)
				}
				if !strings.Contains(pm.Text, "the printer is on fire. Café.") {
					t.Errorf("Text = %q", pm.Text)
				}
				if pm.HTML != "" || len(pm.Attachments) != 0 || len(pm.Errors) != 0 {
					t.Errorf("HTML %q, %d attachments, errors %q: want none", pm.HTML, len(pm.Attachments), pm.Errors)
				}
			},
		},
		{
			name: "a multipart message keeps the attachment byte for byte",
			raw: crlf(`From: alice@example.org
To: support@example.com
Subject: Invoice attached
Message-ID: <att-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

See the attachment.
--b1
Content-Type: application/octet-stream; name="invoice.bin"
Content-Disposition: attachment; filename="invoice.bin"
Content-Transfer-Encoding: base64

`) + base64Lines(att, "\r\n") + "--b1--\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if !strings.Contains(pm.Text, "See the attachment.") {
					t.Errorf("Text = %q", pm.Text)
				}
				if len(pm.Attachments) != 1 {
					t.Fatalf("%d attachments, want 1", len(pm.Attachments))
				}
				a := pm.Attachments[0]
				if a.Filename != "invoice.bin" || a.ContentType != "application/octet-stream" || a.Inline {
					t.Errorf("attachment = %q %q inline=%v", a.Filename, a.ContentType, a.Inline)
				}
				if got, want := sha(a.Data), sha(att); got != want {
					t.Errorf("attachment sha256 %s (%d bytes), want %s (%d bytes)", got, len(a.Data), want, len(att))
				}
			},
		},
		{
			name: "an HTML-only message is sanitized and gets a text version",
			raw: crlf(`From: alice@example.org
Subject: Looks nice
Content-Type: text/html; charset=utf-8

<html><body><p>Hello <b>team</b></p><script>alert('stolen')</script>
<img src="https://example.org/x.png" onerror="alert(2)"><a href="javascript:alert(3)">click</a>
<img src="cid:logo@example.org"></body></html>
`),
			check: func(t *testing.T, pm *Parsed) {
				for _, bad := range []string{"<script", "alert('stolen')", "onerror", "javascript:"} {
					if strings.Contains(strings.ToLower(pm.HTML), strings.ToLower(bad)) {
						t.Errorf("sanitized HTML still holds %q: %q", bad, pm.HTML)
					}
				}
				if !strings.Contains(pm.HTML, "<b>team</b>") || !strings.Contains(pm.HTML, `src="cid:logo@example.org"`) {
					t.Errorf("sanitizing removed harmless markup or the cid: image: %q", pm.HTML)
				}
				if !strings.Contains(pm.Text, "Hello") || !strings.Contains(pm.Text, "team") {
					t.Errorf("Text from HTML = %q", pm.Text)
				}
				if len(pm.Errors) == 0 {
					t.Errorf("enmime warns that the text came from HTML; Errors is empty")
				}
			},
		},
		{
			name: "a leading mbox From line is dropped, not taken for a header",
			raw:  "From alice@example.org Mon Jan  1 10:00:00 2024\n" + plainMessage,
			check: func(t *testing.T, pm *Parsed) {
				if pm.From.Address != "alice@example.org" || pm.Subject != "Printer on fire" {
					t.Errorf("From %q Subject %q", pm.From.Address, pm.Subject)
				}
				if len(pm.Errors) != 0 {
					t.Errorf("Errors = %q, want none", pm.Errors)
				}
			},
		},
		{
			name: "bare LF line ends parse like CRLF",
			raw:  plainMessage,
			check: func(t *testing.T, pm *Parsed) {
				if pm.From.Address != "alice@example.org" || pm.Subject != "Printer on fire" || !strings.Contains(pm.Text, "on fire") {
					t.Errorf("From %q Subject %q Text %q", pm.From.Address, pm.Subject, pm.Text)
				}
			},
		},
		{
			name: "bare CR line ends (old Mac files) still give sender, subject and body",
			raw:  strings.ReplaceAll(plainMessage, "\n", "\r"),
			check: func(t *testing.T, pm *Parsed) {
				// The header block must not be read as one long From line, whose last
				// <...> is the Message-ID: that would attribute the mail to a stranger.
				if pm.From.Address != "alice@example.org" {
					t.Errorf("From = %q, want alice@example.org", pm.From.Address)
				}
				if pm.Subject != "Printer on fire" || pm.MessageID != "plain-1@example.org" {
					t.Errorf("Subject %q MessageID %q", pm.Subject, pm.MessageID)
				}
				if !strings.Contains(pm.Text, "on fire") {
					t.Errorf("Text = %q", pm.Text)
				}
			},
		},
		{
			name: "a message with no Subject and no Message-ID parses with both empty",
			raw:  "From: alice@example.org\r\nTo: support@example.com\r\n\r\nJust a body.\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if pm.Subject != "" || pm.MessageID != "" || pm.From.Address != "alice@example.org" || !strings.Contains(pm.Text, "Just a body.") {
					t.Errorf("Subject %q MessageID %q From %q Text %q", pm.Subject, pm.MessageID, pm.From.Address, pm.Text)
				}
			},
		},
		{
			name: "ISO-2022-JP with a charset parameter and an encoded-word subject becomes UTF-8",
			raw: "From: taro@example.jp\r\nSubject: " + mime.BEncoding.Encode("ISO-2022-JP", jis(t, jaSubject)) +
				"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
				jis(t, jaBody) + "\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if pm.Subject != jaSubject {
					t.Errorf("Subject = %q, want %q", pm.Subject, jaSubject)
				}
				if !strings.Contains(pm.Text, jaBody) {
					t.Errorf("Text = %q, want %q", pm.Text, jaBody)
				}
			},
		},
		{
			name: "ISO-2022-JP without a charset parameter, raw in the subject too, becomes UTF-8 (Zammad#2498)",
			raw: "From: taro@example.jp\r\nSubject: " + jis(t, jaSubject) +
				"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
				jis(t, jaBody) + "\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if pm.Subject != jaSubject {
					t.Errorf("Subject = %q, want %q", pm.Subject, jaSubject)
				}
				if !strings.Contains(pm.Text, jaBody) {
					t.Errorf("Text = %q, want %q", pm.Text, jaBody)
				}
			},
		},
		{
			name: "ISO-2022-JP in a message with no MIME headers at all becomes UTF-8",
			raw:  "From: taro@example.jp\r\nSubject: " + jis(t, jaSubject) + "\r\n\r\n" + jis(t, jaBody) + "\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if pm.Subject != jaSubject || !strings.Contains(pm.Text, jaBody) {
					t.Errorf("Subject %q Text %q", pm.Subject, pm.Text)
				}
			},
		},
		{
			name: "a header block enmime refuses falls back, keeping Subject and From and saying why",
			raw:  " folded line with nothing to fold onto\r\nFrom: Alice <Alice@Example.org>\r\nSubject: Broken headers\r\nMessage-ID: <broken-1@example.org>\r\n\r\nThe body survives.\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if pm.Subject != "Broken headers" || pm.From.Address != "alice@example.org" || pm.From.Name != "Alice" {
					t.Errorf("Subject %q From %+v", pm.Subject, pm.From)
				}
				if pm.MessageID != "broken-1@example.org" || !strings.Contains(pm.Text, "The body survives.") {
					t.Errorf("MessageID %q Text %q", pm.MessageID, pm.Text)
				}
				if len(pm.Errors) == 0 || !strings.Contains(pm.Errors[0], "unparsable") {
					t.Errorf("Errors = %q, want the reason recorded", pm.Errors)
				}
			},
		},
		{
			name: "a multipart message without a boundary falls back to the raw body",
			raw:  "From: alice@example.org\r\nSubject: No boundary\r\nContent-Type: multipart/mixed\r\n\r\nbody text\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if pm.Subject != "No boundary" || pm.From.Address != "alice@example.org" || !strings.Contains(pm.Text, "body text") {
					t.Errorf("Subject %q From %q Text %q", pm.Subject, pm.From.Address, pm.Text)
				}
				if len(pm.Errors) == 0 {
					t.Errorf("Errors is empty, want the reason recorded")
				}
			},
		},
		{
			name: "a long References header keeps every id in order",
			raw: "From: alice@example.org\r\nSubject: Re: thread\r\nIn-Reply-To: " + manyRefs[len(manyRefs)-1] +
				"\r\nReferences: " + strings.Join(manyRefs, "\r\n ") + "\r\n\r\nbody\r\n",
			check: func(t *testing.T, pm *Parsed) {
				if len(pm.References) != len(manyRefs) {
					t.Fatalf("%d references, want %d", len(pm.References), len(manyRefs))
				}
				for i, r := range pm.References {
					if "<"+r+">" != manyRefs[i] {
						t.Errorf("reference %d = %q, want %s", i, r, manyRefs[i])
					}
				}
				if len(pm.InReplyTo) != 1 || "<"+pm.InReplyTo[0]+">" != manyRefs[len(manyRefs)-1] {
					t.Errorf("InReplyTo = %q", pm.InReplyTo)
				}
			},
		},
		{
			name: "NUL bytes and invalid UTF-8 never reach the text a database stores",
			raw:  "From: Al\xffice <alice@example.org>\r\nSubject: Caf\xe9 \x00menu\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9\x00 au lait\r\n",
			check: func(t *testing.T, pm *Parsed) {
				for name, s := range map[string]string{"Subject": pm.Subject, "Text": pm.Text, "From.Name": pm.From.Name} {
					if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
						t.Errorf("%s = %q: invalid UTF-8 or NUL (PostgreSQL refuses both in TEXT)", name, s)
					}
				}
				if !strings.Contains(pm.Subject, "menu") || !strings.Contains(pm.Text, "au lait") {
					t.Errorf("cleaning lost text: Subject %q Text %q", pm.Subject, pm.Text)
				}
			},
		},
		{
			name: "binary garbage falls back without a sender and with the reason recorded",
			raw:  "\x00\x01\x02\xff\xfe\x80binary\n\n\x00\xc3\x28",
			check: func(t *testing.T, pm *Parsed) {
				if pm.From.Address != "" || len(pm.Errors) == 0 {
					t.Errorf("From %q Errors %q", pm.From.Address, pm.Errors)
				}
				checkStorable(t, pm)
			},
		},
	}
	p := NewParser()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pm := p.Parse([]byte(tc.raw))
			if pm == nil {
				t.Fatal("Parse returned nil")
			}
			if pm.Header == nil {
				t.Fatal("Parse left Header nil; Classify needs it")
			}
			tc.check(t, pm)
		})
	}
}

// checkStorable fails when a field ingest writes to a TEXT column holds something
// PostgreSQL would refuse: invalid UTF-8 or a NUL byte.
func checkStorable(t testing.TB, pm *Parsed) {
	t.Helper()
	fields := map[string]string{
		"Subject": pm.Subject, "MessageID": pm.MessageID, "Text": pm.Text, "HTML": pm.HTML,
		"From.Name": pm.From.Name, "From.Address": pm.From.Address, "ContentType": pm.ContentType,
		"InReplyTo": strings.Join(pm.InReplyTo, " "), "References": strings.Join(pm.References, " "),
		"Errors": strings.Join(pm.Errors, "\n"),
	}
	for i, a := range append(append([]mail.Address(nil), pm.To...), pm.Cc...) {
		fields[fmt.Sprintf("To/Cc %d", i)] = a.Name + a.Address
	}
	for i, a := range pm.Attachments {
		fields[fmt.Sprintf("attachment %d", i)] = a.Filename + a.ContentType + a.ContentID
	}
	for name, s := range fields {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Errorf("%s = %q: not storable (invalid UTF-8 or NUL)", name, s)
		}
	}
}

// FuzzParse: Parse must return something usable for any input, and never panic. Parse
// recovers a panic inside enmime into the fallback; the fuzzer fails on that too, so a
// library panic is seen rather than silently absorbed.
func FuzzParse(f *testing.F) {
	att := attachmentBytes()[:300]
	seeds := []string{
		crlf(plainMessage),
		plainMessage,
		strings.ReplaceAll(plainMessage, "\n", "\r"),
		"From alice@example.org Mon Jan  1 10:00:00 2024\n" + plainMessage,
		crlf("From: a@example.org\nSubject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf; name=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\n") +
			base64Lines(att, "\r\n") + "--b--\r\n",
		crlf("From: a@example.org\nContent-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<p>hi=3D<script>x</script>\n--x--\n"),
		crlf("From: MAILER-DAEMON@mx.example.net\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\n\nfailed\n--r\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--r\nContent-Type: message/rfc822\n\nSubject: orig\n\nbody\n--r--\n"),
		"Subject: =?ISO-2022-JP?B?GyRCJDMkcxsoQg==?=\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$B$3$s\x1b(B\r\n",
		" broken\r\nFrom: x@y\r\n\r\n",
		"",
		"\x00\xff",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	p := NewParser()
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		pm := p.Parse(raw)
		if pm == nil || pm.Header == nil {
			t.Fatalf("Parse returned %v with a nil Header", pm)
		}
		if !bytes.Equal(in, raw) {
			t.Fatal("Parse modified its input")
		}
		for _, e := range pm.Errors {
			if strings.HasPrefix(e, "unparsable message, kept raw: parser panic") {
				t.Fatalf("enmime panicked (recovered by Parse): %s", e)
			}
		}
		if pm.From.Address != strings.ToLower(pm.From.Address) {
			t.Errorf("From address %q is not lower case", pm.From.Address)
		}
		checkStorable(t, pm)
		_ = Classify("", pm, func(string) bool { return false })
		_ = Classify("a@example.org", pm, nil)
	})
}
