package smtpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/store"
)

// Spooler commits a raw message durably; smtpd answers 250 only after it returns nil.
type Spooler interface {
	Commit(ctx context.Context, in *store.Inbound) error
}

// Config is what the SMTP server needs.
type Config struct {
	Listen          string
	Hostname        string
	MaxMessageBytes int64
	MaxRecipients   int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	TLS             *tls.Config
	// CheckRecipient returns nil for an address mxdesk accepts mail for, or the SMTP
	// error to answer (550 5.1.1 for unknown addresses and tampered reply tokens).
	CheckRecipient func(addr string) error
}

// Server is the inbound SMTP listener.
type Server struct {
	cfg   Config
	spool Spooler
	log   *slog.Logger
	srv   *smtp.Server
	seq   atomic.Uint64
	// closing is set when shutdown begins, so sessions that finish DATA after it still
	// get their verdict but new transactions are refused.
	closing atomic.Bool
}

// New returns a Server. Call Serve or ListenAndServe.
func New(cfg Config, spool Spooler, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, spool: spool, log: log}
	srv := smtp.NewServer(s)
	srv.Addr = cfg.Listen
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	// Real HTML mail has lines far beyond RFC 5321's 1000 octets; go-smtp's default of
	// 2000 answers them with a permanent 554.
	srv.MaxLineLength = 64 * 1024
	srv.TLSConfig = cfg.TLS
	srv.ErrorLog = slogAdapter{log}
	s.srv = srv
	return s
}

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.srv.Serve(l)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for open sessions to end until ctx
// expires; then it closes them. A session cut off mid-DATA never got a 250, so its sender
// retries; a session whose commit is in flight gets its answer first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("smtpd: closing sessions still open at the shutdown deadline")
		return s.srv.Close()
	}
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if s.closing.Load() {
		return nil, errShuttingDown
	}
	return &session{s: s, conn: c, remote: c.Conn().RemoteAddr().String()}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	remote string
	from   string
	rcpt   []string
}

func (ss *session) AuthMechanisms() []string { return nil }

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.closing.Load() {
		return errShuttingDown
	}
	if from != "" && !plausibleAddress(from) {
		return errBadSender
	}
	ss.from = from
	ss.rcpt = ss.rcpt[:0]
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if !plausibleAddress(to) {
		return errBadRecipientAddr
	}
	if ss.s.cfg.MaxRecipients > 0 && len(ss.rcpt) >= ss.s.cfg.MaxRecipients {
		return errTooManyRcpts
	}
	if err := ss.s.cfg.CheckRecipient(to); err != nil {
		ss.s.log.Info("smtpd: recipient refused", "remote", ss.remote, "mail_from", ss.from, "rcpt", to)
		return reply(err)
	}
	ss.rcpt = append(ss.rcpt, strings.ToLower(to))
	return nil
}

// Data reads the body into memory up to the size limit (go-smtp's reader stops at
// MaxMessageBytes and drains the rest without keeping it), prepends our Received header,
// and commits it to the spool before returning nil, which go-smtp answers with 250.
func (ss *session) Data(r io.Reader) error {
	started := time.Now()
	var buf bytes.Buffer
	received := ss.receivedHeader()
	buf.Grow(len(received) + 4096)
	buf.WriteString(received)
	if _, err := buf.ReadFrom(r); err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			ss.s.log.Info("smtpd: message refused, too large", "remote", ss.remote, "mail_from", ss.from,
				"limit", ss.s.cfg.MaxMessageBytes)
			return errTooLarge
		}
		ss.s.log.Info("smtpd: DATA aborted", "remote", ss.remote, "err", err)
		return reply(err)
	}
	in := &store.Inbound{
		RemoteAddr: ss.remote,
		Helo:       ss.conn.Hostname(),
		MailFrom:   ss.from,
		Rcpt:       append([]string(nil), ss.rcpt...),
		Raw:        buf.Bytes(),
	}
	if err := ss.s.spool.Commit(context.Background(), in); err != nil {
		ss.s.log.Error("smtpd: spool commit failed, answered temporary failure", "remote", ss.remote, "err", err)
		return reply(err)
	}
	ss.s.log.Info("smtpd: message accepted", "inbound_id", in.ID, "remote", ss.remote, "mail_from", ss.from,
		"rcpt", ss.rcpt, "size", len(in.Raw), "ms", time.Since(started).Milliseconds())
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.rcpt = ss.rcpt[:0]
}

func (ss *session) Logout() error { return nil }

// receivedHeader records the hop in the stored copy, as every MTA does (RFC 5321 4.4).
func (ss *session) receivedHeader() string {
	host, _, _ := net.SplitHostPort(ss.remote)
	id := ss.s.seq.Add(1)
	with := "ESMTP"
	if _, ok := ss.conn.TLSConnectionState(); ok {
		with = "ESMTPS"
	}
	rcpt := ""
	if len(ss.rcpt) == 1 {
		rcpt = "\r\n\tfor <" + ss.rcpt[0] + ">"
	}
	return fmt.Sprintf("Received: from %s ([%s])\r\n\tby %s (mxdesk) with %s id %x%s;\r\n\t%s\r\n",
		sanitizeHelo(ss.conn.Hostname()), host, ss.s.cfg.Hostname, with, id, rcpt, time.Now().Format(time.RFC1123Z))
}

// sanitizeHelo keeps a client-chosen name from injecting header lines.
func sanitizeHelo(h string) string {
	h = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '(' || r == ')' {
			return -1
		}
		return r
	}, h)
	if h == "" {
		return "unknown"
	}
	if len(h) > 255 {
		h = h[:255]
	}
	return h
}

// plausibleAddress rejects what no mailbox can be: no @, controls, spaces.
func plausibleAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || len(a) > 320 {
		return false
	}
	for _, r := range a {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' {
			return false
		}
	}
	return true
}

// slogAdapter routes go-smtp's internal log lines to slog.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	a.log.Warn("smtpd: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (a slogAdapter) Println(v ...any) {
	a.log.Warn("smtpd: " + strings.TrimSpace(fmt.Sprintln(v...)))
}
