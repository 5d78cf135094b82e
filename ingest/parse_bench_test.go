package ingest_test

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/ingest"
)

// benchMessage builds a message like the ones bench/run sends: plain text of about size
// bytes, or (attach) a short text part and a base64 attachment filling the size.
func benchMessage(size int, attach bool) []byte {
	rng := rand.New(rand.NewPCG(7, 8))
	var b strings.Builder
	b.WriteString("Received: from loadgen.example.org ([127.0.0.1])\r\n\tby mx.example.com (mxdesk) with ESMTP id 1;\r\n\tTue, 24 Nov 2026 12:00:00 +0000\r\n")
	b.WriteString("Message-ID: <bench.1@loadgen.example.org>\r\nFrom: Customer 1 <customer1@example.org>\r\nTo: <support@example.com>\r\n")
	b.WriteString("Subject: printer on fire again\r\nDate: Tue, 24 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n")
	line := "the printer on the third floor is broken again and nobody knows why at all.\r\n"
	if !attach {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		for b.Len() < size {
			b.WriteString(line)
		}
		return []byte(b.String())
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for i := 0; i < 8; i++ {
		b.WriteString(line)
	}
	b.WriteString("--=_b\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, (size-b.Len())*3/4)
	for i := range raw {
		raw[i] = byte(rng.UintN(256))
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 0 {
		n := min(76, len(enc))
		b.WriteString(enc[:n] + "\r\n")
		enc = enc[n:]
	}
	b.WriteString("--=_b--\r\n")
	return []byte(b.String())
}

// BenchmarkParse is ingest's MIME parse of the bench's message shapes (bench/README.md).
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name   string
		size   int
		attach bool
	}{
		{"plain-4KiB", 4096, false},
		{"attachment-100KiB", 100 * 1024, true},
	} {
		raw := benchMessage(c.size, c.attach)
		b.Run(c.name, func(b *testing.B) {
			p := ingest.NewParser()
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				pm := p.Parse(raw)
				if pm.MessageID == "" {
					b.Fatal(fmt.Sprintf("parse lost the Message-ID: %+v", pm.Errors))
				}
			}
		})
	}
}
