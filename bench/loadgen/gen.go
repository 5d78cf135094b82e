package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// cmdGen writes K message templates into DIR: complete RFC 5322 messages with CRLF line
// ends and no Message-ID (run adds a unique one to every message sent, as an unsigned
// header, so a DKIM signature over the template stays valid).
func cmdGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	size := fs.Int("size", 4096, "approximate size of each message in bytes")
	senders := fs.Int("senders", 200, "number of distinct senders (one template each)")
	kind := fs.String("kind", "plain", "plain (text only) or attach (text plus a base64 attachment filling the size)")
	domain := fs.String("domain", "example.org", "sender domain")
	rcpt := fs.String("rcpt", "support@example.com", "To: address")
	out := fs.String("out", "", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("gen: -out is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < *senders; i++ {
		msg := makeMessage(rng, i, *size, *kind, *domain, *rcpt)
		name := filepath.Join(*out, fmt.Sprintf("t-%05d.eml", i))
		if err := os.WriteFile(name, msg, 0o644); err != nil {
			return err
		}
	}
	return nil
}

var words = strings.Fields(`the printer on third floor is broken again and nobody knows why
invoice number order delivery refund account password login error screen shows message
please help urgent since yesterday cannot access portal thanks regards best customer
when click button nothing happens tried restart browser cache still same problem`)

func sentence(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

// textBody returns about n bytes of wrapped prose, CRLF line ends.
func textBody(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteString("Hello support,\r\n\r\n")
	for b.Len() < n {
		b.WriteString(sentence(rng, 8+rng.IntN(6)))
		b.WriteString(".\r\n")
		if rng.IntN(6) == 0 {
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\nRegards\r\n")
	return b.String()
}

func makeMessage(rng *rand.Rand, i, size int, kind, domain, rcpt string) []byte {
	var b bytes.Buffer
	from := fmt.Sprintf("customer%d@%s", i, domain)
	fmt.Fprintf(&b, "From: Customer %d <%s>\r\n", i, from)
	fmt.Fprintf(&b, "To: <%s>\r\n", rcpt)
	fmt.Fprintf(&b, "Subject: %s\r\n", sentence(rng, 5))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\n")
	head := b.Len()
	switch kind {
	case "attach":
		boundary := fmt.Sprintf("=_bench_%d", i)
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
		text := textBody(rng, 600)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", boundary, text)
		// The attachment takes what is left of the size, base64 at 76 columns.
		left := size - head - b.Len() - 300
		raw := make([]byte, max(left*3/4, 64))
		for j := range raw {
			raw[j] = byte(rng.UintN(256))
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: application/pdf; name=\"report-%d.pdf\"\r\nContent-Disposition: attachment; filename=\"report-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, i, i)
		for len(enc) > 0 {
			n := min(76, len(enc))
			b.WriteString(enc[:n])
			b.WriteString("\r\n")
			enc = enc[n:]
		}
		fmt.Fprintf(&b, "--%s--\r\n", boundary)
	default:
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(textBody(rng, max(size-b.Len()-20, 64)))
	}
	return b.Bytes()
}

// template is one message ready to send: its envelope sender (from the From header) and
// its bytes with CRLF line ends, dot-stuffed, without the final ".".
type template struct {
	from string
	data []byte
}

// loadTemplates reads every *.eml in dir, sorted by name.
func loadTemplates(dir string) ([]template, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.eml templates in %s", dir)
	}
	var out []template
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		t := template{data: dotStuff(crlf(b))}
		t.from = headerAddress(b, "From")
		out = append(out, t)
	}
	return out, nil
}

// crlf turns bare LF line ends (dkimsign writes them) into CRLF.
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		b = append(b, '\r', '\n')
	}
	return b
}

func dotStuff(b []byte) []byte {
	if bytes.HasPrefix(b, []byte(".")) {
		b = append([]byte("."), b...)
	}
	return bytes.ReplaceAll(b, []byte("\r\n."), []byte("\r\n.."))
}

// headerAddress returns the address in angle brackets (or the bare value) of a header.
func headerAddress(msg []byte, name string) string {
	for _, line := range strings.Split(string(msg), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
			return v[i+1 : j]
		}
		return strings.TrimSpace(v)
	}
	return ""
}
