package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
)

// photo is a binary attachment with every byte value, so any re-encoding shows.
func photo() []byte {
	b := make([]byte, 5000)
	for i := range b {
		b[i] = byte(i*31 + i/256)
	}
	return b
}

// newTicketMail builds what a mail client sends: text and a base64 attachment.
func newTicketMail(msgID string, attachment []byte) string {
	b64 := base64.StdEncoding.EncodeToString(attachment)
	var lines []string
	for len(b64) > 76 {
		lines = append(lines, b64[:76])
		b64 = b64[76:]
	}
	lines = append(lines, b64)
	return strings.ReplaceAll(fmt.Sprintf(`From: Alice Example <alice@example.org>
To: support@example.com
Subject: Printer on fire
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <%s>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8

The printer on floor 3 is on fire. Please advise.
--XYZ
Content-Type: image/png; name="photo.png"
Content-Disposition: attachment; filename="photo.png"
Content-Transfer-Encoding: base64

%s
--XYZ--
`, msgID, strings.Join(lines, "\n")), "\n", "\r\n")
}

func TestFirstLight(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sink := sinktest.Start(t)
			inst := newInstance(t, mkURL(t), sink.Addr, "")
			inst.start()
			testFirstLight(t, inst, sink)
		})
	}
}

func testFirstLight(t *testing.T, inst *instance, sink *sinktest.Sink) {
	att := photo()
	sum := sha256.Sum256(att)
	if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, newTicketMail("first@client.example.org", att)); err != nil {
		t.Fatalf("send: %v", err)
	}

	// The message becomes ticket 1.
	var list []ticketOut
	waitFor(t, "ticket 1", 15*time.Second, func() bool { list = inst.tickets(); return len(list) == 1 })
	tk := list[0]
	if tk.ID != 1 || tk.Subject != "Printer on fire" || tk.Contact != "alice@example.org" || tk.Team != "Support" || tk.Status != "open" || tk.Priority != "medium" {
		t.Fatalf("ticket list = %+v", tk)
	}
	var show ticketOut
	inst.cliJSON(&show, "ticket", "show", "1")
	if len(show.Messages) != 1 {
		t.Fatalf("ticket 1 has %d messages, want 1", len(show.Messages))
	}
	m := show.Messages[0]
	if m.Direction != "in" || m.From != "alice@example.org" || m.MessageID != "first@client.example.org" ||
		!strings.Contains(m.Text, "printer on floor 3 is on fire") || len(m.To) != 1 || m.To[0] != "support@example.com" {
		t.Errorf("message 1 = %+v", m)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "photo.png" || m.Attachments[0].ContentType != "image/png" ||
		m.Attachments[0].Size != int64(len(att)) || m.Attachments[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("attachments = %+v, want photo.png of %d bytes with sha256 %x", m.Attachments, len(att), sum)
	}

	// The acknowledgement reaches the relay with the threading headers.
	acks := sink.Wait(t, 1, 15*time.Second)
	ack := acks[0]
	if ack.Header == nil {
		t.Fatalf("acknowledgement does not parse:\n%s", ack.Raw)
	}
	h := ack.Header
	checks := []struct{ name, got, want string }{
		{"envelope to", strings.Join(ack.To, ","), "alice@example.org"},
		{"envelope from", ack.From, "support@example.com"},
		{"Subject", decodeHeader(h.Get("Subject")), "[#1] Printer on fire"},
		{"In-Reply-To", h.Get("In-Reply-To"), "<first@client.example.org>"},
		{"References", h.Get("References"), "<first@client.example.org>"},
		{"Auto-Submitted", h.Get("Auto-Submitted"), "auto-replied"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("ack %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	ackID := threading.CleanMessageID(h.Get("Message-ID"))
	if !strings.HasSuffix(ackID, "@example.com") || len(ackID) < 26+len("@example.com") {
		t.Errorf("ack Message-ID = %q, want a random id @example.com", ackID)
	}
	replyTo, err := mail.ParseAddress(h.Get("Reply-To"))
	if err != nil || !strings.HasPrefix(replyTo.Address, "support+t1-") || !strings.HasSuffix(replyTo.Address, "@example.com") {
		t.Fatalf("ack Reply-To = %q (%v), want support+t1-…@example.com", h.Get("Reply-To"), err)
	}
	checkAlternative(t, ack.Raw)

	// A reply to the Reply-To address (subject edited, no threading headers) is message 2.
	reply1 := "From: Alice Example <alice@example.org>\r\nTo: " + replyTo.Address + "\r\nSubject: more info\r\n" +
		"Message-ID: <reply1@client.example.org>\r\n\r\nIt is still burning.\r\n"
	if err := send(inst.smtp, "alice@example.org", []string{replyTo.Address}, reply1); err != nil {
		t.Fatalf("send reply 1: %v", err)
	}
	// One to support@ with In-Reply-To the acknowledgement's Message-ID is message 3.
	reply2 := "From: Alice Example <alice@example.org>\r\nTo: support@example.com\r\nSubject: Re: [#1] Printer on fire\r\n" +
		"Message-ID: <reply2@client.example.org>\r\nIn-Reply-To: <" + ackID + ">\r\nReferences: <first@client.example.org> <" + ackID + ">\r\n\r\nNow the fax too.\r\n"
	if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, reply2); err != nil {
		t.Fatalf("send reply 2: %v", err)
	}
	waitFor(t, "messages 2 and 3 on ticket 1", 15*time.Second, func() bool {
		inst.cliJSON(&show, "ticket", "show", "1")
		return len(show.Messages) == 3
	})
	if show.Messages[1].ID != 2 || show.Messages[1].MessageID != "reply1@client.example.org" ||
		show.Messages[2].ID != 3 || show.Messages[2].MessageID != "reply2@client.example.org" {
		t.Errorf("ticket 1 messages = %+v", show.Messages)
	}
	if list = inst.tickets(); len(list) != 1 {
		t.Errorf("%d tickets after the replies, want 1", len(list))
	}
	// Replies get no second acknowledgement.
	waitFor(t, "nothing in flight", 15*time.Second, inst.settled)
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("sink got %d mails, want only the one acknowledgement", n)
	}
	var outq []struct {
		Status string `json:"status"`
	}
	inst.cliJSON(&outq, "queue", "outbound")
	if len(outq) != 1 || outq[0].Status != "sent" {
		t.Errorf("queue outbound = %+v, want one sent row", outq)
	}
	// The operator's view: Prometheus counts the delivery.
	resp, err := http.Get("http://" + inst.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`mxdesk_outbound_mails_total{result="sent"} 1`, "mxdesk_outbound_queued 0", "mxdesk_outbound_bounced 0",
		`mxdesk_smtp_messages_total{verdict="accepted"} 3`, "mxdesk_smtp_data_reply_seconds_count 3",
		"mxdesk_spool_batches_redone_total 0", "mxdesk_ingest_backlog_seconds 0"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// checkAlternative asserts the acknowledgement has a text and an HTML part.
func checkAlternative(t *testing.T, raw []byte) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("ack Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("ack parts = %v, want text/plain then text/html", types)
	}
}

func decodeHeader(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

func TestRefusals(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inst := newInstance(t, mkURL(t), "", "")
			inst.start()
			plain := "From: x@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
			tests := []struct {
				name string
				rcpt string
				body string
				code int
				enh  smtp.EnhancedCode
			}{
				{"unknown mailbox", "sales@example.com", plain, 550, smtp.EnhancedCode{5, 1, 1}},
				{"other domain (no open relay)", "support@gmail.com", plain, 550, smtp.EnhancedCode{5, 7, 1}},
				{"tampered reply token", "support+t1-aaaaaaaaaaaaaaaa@example.com", plain, 550, smtp.EnhancedCode{5, 1, 1}},
				{"guessed sequential token", "support+1@example.com", plain, 550, smtp.EnhancedCode{5, 1, 1}},
				{"over the size limit", "support@example.com", plain + strings.Repeat("x", 80) + "\r\n" + strings.Repeat(strings.Repeat("y", 998)+"\r\n", 1100), 552, smtp.EnhancedCode{5, 3, 4}},
			}
			for _, tt := range tests {
				err := send(inst.smtp, "x@example.org", []string{tt.rcpt}, tt.body)
				var se *smtp.SMTPError
				if !errors.As(err, &se) || se.Code != tt.code || se.EnhancedCode != tt.enh {
					t.Errorf("%s: got %v, want %d %v", tt.name, err, tt.code, tt.enh)
				}
			}
			// Nothing refused was stored.
			var inq []any
			inst.cliJSON(&inq, "queue", "inbound")
			if len(inq) != 0 {
				t.Errorf("inbound spool has %d rows after only refusals", len(inq))
			}
			if tk := inst.tickets(); len(tk) != 0 {
				t.Errorf("%d tickets after only refusals", len(tk))
			}
			// The server still works after all that.
			if err := send(inst.smtp, "x@example.org", []string{"support@example.com"}, plain); err != nil {
				t.Fatalf("valid mail after refusals: %v", err)
			}
			waitFor(t, "the valid mail's ticket", 15*time.Second, func() bool { return len(inst.tickets()) == 1 })
		})
	}
}
