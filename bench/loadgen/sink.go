package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// cmdSink is the relay mxdesk's acknowledgements go to in the crash and soak runs: it
// accepts every message and appends one line per message to the log, so duplicates (the
// same Message-ID delivered twice) can be counted afterwards:
//
//	<message-id> TAB <rcpt> TAB <reply-to address> TAB <subject>
func cmdSink(args []string) error {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:2526", "listen address (loopback)")
	logPath := fs.String("log", "", "append one line per received message here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	b := &sinkBackend{w: f}
	srv := smtp.NewServer(b)
	srv.Domain = "sink.example.net"
	srv.MaxMessageBytes = 64 << 20
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; srv.Close() }()
	fmt.Fprintf(os.Stderr, "loadgen sink: listening on %s, log %s\n", l.Addr(), *logPath)
	if err := srv.Serve(l); err != nil && err != smtp.ErrServerClosed && !strings.Contains(err.Error(), "closed") {
		return err
	}
	return nil
}

type sinkBackend struct {
	mu sync.Mutex
	w  io.Writer
}

func (b *sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{b: b}, nil }

type sinkSession struct {
	b    *sinkBackend
	rcpt []string
}

func (s *sinkSession) AuthMechanisms() []string             { return nil }
func (s *sinkSession) Mail(string, *smtp.MailOptions) error { s.rcpt = nil; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpt = append(s.rcpt, to)
	return nil
}
func (s *sinkSession) Reset()        { s.rcpt = nil }
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) fields(raw []byte) (mid, replyTo, subj string) {
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return "", "", ""
	}
	mid = strings.Trim(strings.TrimSpace(m.Header.Get("Message-ID")), "<>")
	if a, err := mail.ParseAddress(m.Header.Get("Reply-To")); err == nil {
		replyTo = a.Address
	}
	subj = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(m.Header.Get("Subject"))
	return mid, replyTo, subj
}

// Data records the message. The line is written before the 250, so a message the sender
// saw accepted is always in the log.
func (s *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	mid, replyTo, subj := s.fields(raw)
	line := fmt.Sprintf("%s\t%s\t%s\t%s\n", mid, strings.Join(s.rcpt, ","), replyTo, subj)
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	_, err = io.WriteString(s.b.w, line)
	return err
}
