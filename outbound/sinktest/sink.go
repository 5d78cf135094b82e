// Package sinktest is an SMTP sink for tests: a real go-smtp server on loopback that
// keeps every message it receives, standing in for the relay mxdesk sends through.
// The full-peer suite uses Postfix's smtp-sink instead.
package sinktest

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one mail the sink accepted.
type Message struct {
	From   string
	To     []string
	Raw    []byte
	Header mail.Header
}

// Sink collects mail.
type Sink struct {
	Addr string
	mu   sync.Mutex
	msgs []Message
	// Refuse, when set, is returned for RCPT (to test retries and permanent failures),
	// refuseLeft times (forever when negative).
	Refuse     *smtp.SMTPError
	refuseLeft int
	// Rcpts counts RCPT commands, refused or not.
	rcpts int
}

// Start runs a sink on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	s := &Sink{}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns a copy of what arrived so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait blocks until n messages arrived or the timeout passes, and returns them.
func (s *Sink) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink: %d messages after %s, want %d", len(msgs), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type backend struct{ s *Sink }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Sink
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string                 { return nil }
func (ss *session) Mail(f string, _ *smtp.MailOptions) error { ss.from = f; return nil }
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.rcpts++
	refuse := ss.s.Refuse
	if refuse != nil {
		if ss.s.refuseLeft == 0 {
			refuse, ss.s.Refuse = nil, nil
		} else if ss.s.refuseLeft > 0 {
			ss.s.refuseLeft--
		}
	}
	ss.s.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: ss.to, Raw: raw}
	if pm, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = pm.Header
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	return nil
}
func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// SetRefuse makes the sink answer RCPT with err the next times times (forever when
// negative), then accept again.
func (s *Sink) SetRefuse(err *smtp.SMTPError, times int) {
	s.mu.Lock()
	s.Refuse, s.refuseLeft = err, times
	s.mu.Unlock()
}

// Attempts returns how many RCPT commands the sink saw.
func (s *Sink) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts
}
