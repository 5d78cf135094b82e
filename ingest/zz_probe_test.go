package ingest

import (
	"fmt"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

func TestZZProbe(t *testing.T) {
	enc := func(s string) string {
		b, err := japanese.ISO2022JP.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	body := enc("こんにちは、世界。お問い合わせありがとうございます。")
	subj := enc("お問い合わせ")
	cases := map[string]string{
		"withcharset":  "From: a@example.org\r\nSubject: =?ISO-2022-JP?B?" + "GyRCJCokTCQkOWckbyQ7GyhC" + "?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body + "\r\n",
		"nocharset":    "From: a@example.org\r\nSubject: " + subj + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body + "\r\n",
		"noct":         "From: a@example.org\r\nSubject: " + subj + "\r\n\r\n" + body + "\r\n",
		"cr":           "From: a@example.org\rSubject: hi\rMessage-ID: <x@y>\r\rbody line\rline2\r",
		"broken":       "From: Alice <alice@example.org>\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=\"\r\n\r\nbody\r\n",
		"headeronly":   "From: a@example.org\r\nSubject: only\r\n",
		"empty":        "",
		"garbage":      "\x00\x01\x02\xff\xfe binary\n\n\x00",
		"html":         "From: a@example.org\r\nContent-Type: text/html\r\n\r\n<p>hi<script>alert(1)</script><img src=x onerror=alert(2)></p>\r\n",
	}
	for name, raw := range cases {
		pm := NewParser().Parse([]byte(raw))
		fmt.Printf("== %s\nfrom=%+v subj=%q mid=%q ct=%q\ntext=%q\nhtml=%q\nerrs=%q\n", name, pm.From, pm.Subject, pm.MessageID, pm.ContentType, pm.Text, pm.HTML, pm.Errors)
	}
}
