package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/store"
)

// Spooler commits a raw message durably; smtpd answers 250 only after it returns nil.
type Spooler interface {
	Commit(ctx context.Context, in *store.Inbound) error
}

// Config is what the SMTP server needs.
type Config struct {
	// Metrics counts verdicts and times them; nil counts nothing.
	Metrics         *Metrics
	Listen          string
	Hostname        string
	MaxMessageBytes int64
	MaxRecipients   int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	// TLS enables STARTTLS (and the implicit-TLS listener, ServeTLS) with its first
	// certificate; SetTLS changes it while running.
	TLS *tls.Config
	// RequireTLS refuses MAIL FROM before STARTTLS (530 5.7.0), except from trusted
	// networks. Only with TLS.
	RequireTLS bool
	// KnownRecipient reports whether mxdesk accepts mail for an address; an unknown
	// address or a tampered reply token is answered 550 5.1.1. A function, so smtpd
	// needs nothing of the packages that route and store the message.
	KnownRecipient func(addr string) bool
	// LocalDomains are the domains mxdesk is the destination for; RCPT to any other is a
	// relay attempt (550 5.7.1). Empty: every domain is local (KnownRecipient decides).
	// SetLocalDomains changes them while running.
	LocalDomains []string
	// MaxHeaderBytes and MaxHeaderFields bound the header block (552 5.3.4).
	MaxHeaderBytes  int
	MaxHeaderFields int
	// MaxCommands and MaxErrors bound one connection: past them it is closed (421 4.7.0).
	MaxCommands int
	MaxErrors   int
	// MaxConnections bounds connections open at once; ConnRatePerIP bounds new
	// connections per minute from one address (421 4.7.0). Zero: no limit.
	MaxConnections int
	ConnRatePerIP  int
	// TrustedNetworks are exempt from the rate limit and from require_tls; a message
	// they relay is SPF-checked for the client their Received field names.
	TrustedNetworks []netip.Prefix
	// Auth checks DKIM, SPF and DMARC at the end of DATA; nil skips the checks (the
	// message is then stored unauthenticated).
	Auth *mailauth.Checker
	// Admit is called before MAIL FROM is answered; it blocks while ingest paces the
	// sessions because it is behind (ingest.Ingester.Admit). Waiting before a message,
	// rather than before its 250, keeps nothing accepted waiting and nothing in memory.
	// Nil: never waits.
	Admit func(ctx context.Context) error
}

// Server is the inbound SMTP listener.
type Server struct {
	cfg   Config
	spool Spooler
	log   *slog.Logger
	// plain and starttls are go-smtp servers that differ only in offering STARTTLS;
	// each new connection goes to the one the current TLS setting picks (reload.go).
	plain, starttls *smtp.Server
	plainQ, tlsQ    *connQueue
	innerOnce       sync.Once
	baseTLS         *tls.Config
	cert            atomic.Pointer[tls.Certificate]
	tls             atomic.Pointer[tlsState]
	local           atomic.Pointer[map[string]bool]
	// listeners are the ones Serve and ServeTLS accept on, for Shutdown to close.
	mu        sync.Mutex
	listeners []net.Listener
	shut      bool
	seq       atomic.Uint64
	// closing is set when shutdown begins, so sessions that finish DATA after it still
	// get their verdict but new transactions are refused.
	closing atomic.Bool
	conns   atomic.Int64
	// open holds the connections open now (*limitConn), for Shutdown to close at its
	// deadline: go-smtp's Close does nothing once its Shutdown began.
	open sync.Map
	rate rateLimiter
	now  func() time.Time
	// stop ends when shutdown begins, so a session waiting in Admit is answered 421.
	stop    context.Context
	stopped context.CancelFunc
}

// New returns a Server. Call Serve or ListenAndServe.
func New(cfg Config, spool Spooler, log *slog.Logger) *Server {
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if cfg.MaxHeaderFields <= 0 {
		cfg.MaxHeaderFields = defaultMaxHeaderFields
	}
	s := &Server{cfg: cfg, spool: spool, log: log, now: time.Now, plainQ: newConnQueue(), tlsQ: newConnQueue()}
	s.stop, s.stopped = context.WithCancel(context.Background())
	s.SetLocalDomains(cfg.LocalDomains)
	// The certificate is looked up at each handshake, so SetTLS can replace it.
	s.baseTLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		s.baseTLS = cfg.TLS.Clone()
	}
	var cert *tls.Certificate
	if len(s.baseTLS.Certificates) > 0 {
		cert = &s.baseTLS.Certificates[0]
	}
	s.baseTLS.Certificates = nil
	s.baseTLS.GetCertificate = s.getCertificate
	s.SetTLS(cert, cfg.RequireTLS)
	s.plain = s.newInner(nil)
	s.starttls = s.newInner(s.baseTLS)
	return s
}

// newInner is one go-smtp server with this server's limits; tc offers STARTTLS.
func (s *Server) newInner(tc *tls.Config) *smtp.Server {
	srv := smtp.NewServer(s)
	srv.Addr = s.cfg.Listen
	srv.Domain = s.cfg.Hostname
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.ReadTimeout = s.cfg.ReadTimeout
	srv.WriteTimeout = s.cfg.WriteTimeout
	// Real HTML mail has lines far beyond RFC 5321's 1000 octets; go-smtp's default of
	// 2000 answers them with a permanent 554.
	srv.MaxLineLength = 64 * 1024
	srv.TLSConfig = tc
	srv.ErrorLog = slogAdapter{s.log}
	return srv
}

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	return s.serve(&limitListener{Listener: l, s: s}, false)
}

// ServeTLS accepts implicit-TLS connections (port 465, RFC 8314) on l until Shutdown.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.cert.Load() == nil {
		return errors.New("smtpd: implicit TLS listener without a certificate")
	}
	return s.serve(tls.NewListener(&limitListener{Listener: l, s: s, implicitTLS: true}, s.baseTLS), true)
}

// serve hands each connection from l to the inner server the TLS setting in force picks;
// the session remembers that setting (require_tls) for its whole life.
func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	s.innerOnce.Do(func() {
		s.plainQ.addr, s.tlsQ.addr = l.Addr(), l.Addr()
		go s.plain.Serve(s.plainQ)
		go s.starttls.Serve(s.tlsQ)
	})
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("smtpd: accept failed, retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		st := s.tls.Load()
		if lc := limitConnOf(c); lc != nil {
			lc.requireTLS = st.require
		}
		q := s.plainQ
		if st.cert != nil && !implicitTLS {
			q = s.tlsQ
		}
		if !q.put(c) {
			c.Close()
			return nil
		}
	}
}

// Shutdown stops accepting connections and waits for open sessions to end until ctx
// expires; then it closes them. A session cut off mid-DATA never got a 250, so its sender
// retries; a session whose commit is in flight gets its answer first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.stopped()
	s.mu.Lock()
	s.shut = true
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	var err error
	for _, in := range []*smtp.Server{s.plain, s.starttls} {
		if e := in.Shutdown(ctx); e != nil && !errors.Is(e, smtp.ErrServerClosed) && err == nil {
			err = e
		}
	}
	// The queues close with their inner servers, unless those never started serving.
	s.plainQ.Close()
	s.tlsQ.Close()
	if errors.Is(err, context.DeadlineExceeded) {
		n := 0
		s.open.Range(func(c, _ any) bool {
			c.(*limitConn).Close()
			n++
			return true
		})
		s.log.Warn("smtpd: closed sessions still open at the shutdown deadline", "sessions", n)
		return nil
	}
	return err
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if s.closing.Load() {
		return nil, errShuttingDown
	}
	lc := limitConnOf(c.Conn())
	ss := &session{s: s, conn: c, lc: lc, remote: c.Conn().RemoteAddr().String(), ip: remoteIP(c.Conn().RemoteAddr()),
		requireTLS: s.tls.Load().require}
	if lc != nil {
		ss.requireTLS = lc.requireTLS // the setting in force when the client connected
	}
	if _, ok := c.TLSConnectionState(); ok && lc != nil {
		lc.encrypted = true
	}
	return ss, nil
}

// limitConnOf finds our connection wrapper under go-smtp's (and TLS's) layers.
func limitConnOf(c net.Conn) *limitConn {
	for {
		switch x := c.(type) {
		case *limitConn:
			return x
		case *tls.Conn:
			c = x.NetConn()
		default:
			return nil
		}
	}
}

// headRoom is kept free in front of a message's body for the fields smtpd prepends.
const headRoom = 8192

// sameBytes reports whether a and b are the same slice of memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// readAll reads r to its end onto buf. While the data fits in buf's capacity (the SIZE=
// hint, or 4 KiB) that is all; past it, the rest goes into chunks (growing to 1 MiB),
// copied once into a buffer of the final size at the end. Growing one buffer by
// append would leave a trail of garbage copies: for a 25 MB message about four times its
// size allocated, most of it still uncollected when ingest adds its own.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	const chunkSize = 1 << 20
	var chunks [][]byte
	cur := buf
	for {
		if len(cur) == cap(cur) {
			chunks = append(chunks, cur)
			// Chunks grow with the message, up to chunkSize, so a 70 KB message does
			// not allocate a megabyte; the first is small, as most mail sent without
			// SIZE= is only a little past the first buffer.
			total := 0
			for _, c := range chunks {
				total += len(c)
			}
			cur = make([]byte, 0, min(chunkSize, max(16<<10, total)))
		}
		n, err := r.Read(cur[len(cur):cap(cur)])
		cur = cur[:len(cur)+n]
		if err == nil {
			continue
		}
		if chunks == nil {
			buf = cur
		} else {
			total := len(cur)
			for _, c := range chunks {
				total += len(c)
			}
			buf = make([]byte, 0, total)
			for _, c := range chunks {
				buf = append(buf, c...)
			}
			buf = append(buf, cur...)
		}
		if err == io.EOF {
			return buf, nil
		}
		return buf, err
	}
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	lc     *limitConn
	remote string
	ip     netip.Addr
	from   string
	// sizeHint is MAIL FROM's SIZE=, to size the DATA buffer once.
	sizeHint int64
	rcpt     []string
	// requireTLS is require_tls as it was when the session began.
	requireTLS bool
}

func (ss *session) AuthMechanisms() []string { return nil }

// refuse counts a refusal against MaxErrors; past it the refusal becomes 421 and the
// connection is closed after it, so a client cannot probe addresses or tokens forever.
func (ss *session) refuse(err error) error {
	if ss.lc == nil || ss.s.cfg.MaxErrors <= 0 {
		return err
	}
	ss.lc.errors++
	if ss.lc.errors >= ss.s.cfg.MaxErrors {
		ss.s.log.Warn("smtpd: too many errors, closing connection", "remote", ss.remote, "errors", ss.lc.errors)
		ss.lc.closeAfter.Store(true)
		return errTooManyErrors
	}
	return err
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.closing.Load() {
		return errShuttingDown
	}
	if ss.requireTLS && !ss.s.trusted(ss.ip) {
		if _, ok := ss.conn.TLSConnectionState(); !ok {
			return ss.refuse(errNeedTLS)
		}
	}
	if from != "" && !plausibleAddress(from) {
		return ss.refuse(errBadSender)
	}
	if ss.s.cfg.Admit != nil {
		if err := ss.s.cfg.Admit(ss.s.stop); err != nil {
			if ss.lc != nil {
				ss.lc.closeAfter.Store(true) // 421: the server closes the channel
			}
			return errShuttingDown
		}
	}
	ss.sizeHint = 0
	if opts != nil && opts.Size > 0 {
		ss.sizeHint = opts.Size
	}
	ss.from = from
	ss.rcpt = ss.rcpt[:0]
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if !plausibleAddress(to) {
		return ss.refuse(errBadRecipientAddr)
	}
	if ss.s.cfg.MaxRecipients > 0 && len(ss.rcpt) >= ss.s.cfg.MaxRecipients {
		return errTooManyRcpts
	}
	if !ss.s.isLocal(to[strings.LastIndexByte(to, '@')+1:]) {
		ss.s.log.Warn("smtpd: relay attempt refused", "remote", ss.remote, "helo", ss.conn.Hostname(), "mail_from", ss.from, "rcpt", to)
		return ss.refuse(errRelayDenied)
	}
	if !ss.s.cfg.KnownRecipient(to) {
		ss.s.log.Info("smtpd: recipient refused", "remote", ss.remote, "mail_from", ss.from, "rcpt", to)
		return ss.refuse(errUnknownRecipient)
	}
	ss.rcpt = append(ss.rcpt, strings.ToLower(to))
	return nil
}

// Data reads the body into memory up to the size limit (go-smtp's reader stops at
// MaxMessageBytes and drains the rest without keeping it), checks line endings and the
// header, authenticates the sender, prepends our Authentication-Results and Received
// fields, and commits it to the spool before returning nil, which go-smtp answers with 250.
func (ss *session) Data(r io.Reader) (err error) {
	var bodyRead time.Time
	defer func() { ss.s.cfg.Metrics.observe(err, bodyRead) }()
	started := time.Now()
	if ss.lc != nil {
		ss.lc.dataStart = started
		ss.lc.inData.Store(true)
		defer ss.lc.inData.Store(false)
	}
	// The body lands behind room for our Received and Authentication-Results fields, so
	// the stored copy is the same buffer, not a second copy of a message that may be 25 MB;
	// SIZE= from MAIL FROM sizes it once.
	buf := make([]byte, headRoom, headRoom+max(4096, min(ss.sizeHint, ss.s.cfg.MaxMessageBytes)+1024))
	buf, err = readAll(r, buf)
	bodyRead = time.Now()
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			ss.s.log.Info("smtpd: message refused, too large", "remote", ss.remote, "mail_from", ss.from,
				"limit", ss.s.cfg.MaxMessageBytes)
			return errTooLarge
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// The rest of the body must not be read as commands (go-smtp would go on
			// reading after our reply): the connection ends here, without a 250
			// (limitConn.Read has closed it already when it is ours).
			ss.s.log.Info("smtpd: DATA timed out, closing connection", "remote", ss.remote, "read", len(buf)-headRoom)
			ss.conn.Close()
			return errTemporary
		}
		ss.s.log.Info("smtpd: DATA aborted", "remote", ss.remote, "err", err)
		return reply(err)
	}
	raw := buf[headRoom:]
	if err := scanMessage(raw, ss.s.cfg.MaxHeaderBytes, ss.s.cfg.MaxHeaderFields); err != nil {
		ss.s.log.Info("smtpd: message refused", "remote", ss.remote, "mail_from", ss.from, "why", err)
		return ss.refuse(err)
	}
	in := &store.Inbound{
		RemoteAddr: ss.remote,
		Helo:       ss.conn.Hostname(),
		MailFrom:   ss.from,
		Rcpt:       append([]string(nil), ss.rcpt...),
	}
	var prefix string
	var authTime time.Duration
	if ss.s.cfg.Auth != nil {
		t := time.Now()
		res := ss.authenticate(raw)
		authTime = time.Since(t)
		switch {
		case res.Temporary != "":
			ss.s.log.Warn("smtpd: message deferred, DNS failure during authentication", "remote", ss.remote,
				"mail_from", ss.from, "message_id", headerMessageID(raw), "from_domain", res.FromDomain, "why", res.Temporary)
			return errDNSTemporary
		case res.Reject():
			ss.s.log.Warn("smtpd: message refused by DMARC policy", "remote", ss.remote, "mail_from", ss.from,
				"message_id", headerMessageID(raw), "from_domain", res.FromDomain, "dkim", res.DKIM, "spf", res.SPF, "policy_domain", res.PolicyDomain)
			return errDMARCReject(res.FromDomain)
		}
		in.AuthResults = res.JSON()
		prefix = res.Header(ss.s.cfg.Hostname)
	}
	raw = dropOurAuthResults(raw, ss.s.cfg.Hostname)
	received := ss.receivedHeader()
	if n := len(received) + len(prefix); n <= headRoom && sameBytes(raw, buf[headRoom:]) {
		start := headRoom - n
		copy(buf[start:], received)
		copy(buf[start+len(received):], prefix)
		in.Raw = buf[start:]
	} else {
		// Fields too long for the room, or raw was rewritten: one copy.
		stored := make([]byte, 0, n+len(raw))
		in.Raw = append(append(append(stored, received...), prefix...), raw...)
	}
	committing := time.Now()
	if err := ss.s.spool.Commit(context.Background(), in); err != nil {
		ss.s.log.Error("smtpd: spool commit failed, answered temporary failure", "remote", ss.remote, "err", err)
		return reply(err)
	}
	// ms is from the DATA command to the 250, the client's sending included; after_data_ms
	// from the body's end, what the client waits for; of that, auth_ms is SPF, DKIM and
	// DMARC (the DNS), spool_ms the commit (the disk). A slow 250 names its cause.
	now := time.Now()
	ss.s.log.Info("smtpd: message accepted", "inbound_id", in.ID, "message_id", headerMessageID(in.Raw), "remote", ss.remote, "mail_from", ss.from,
		"rcpt", ss.rcpt, "size", len(in.Raw), "ms", ms(now.Sub(started)), "after_data_ms", ms(now.Sub(bodyRead)),
		"auth_ms", ms(authTime), "spool_ms", ms(now.Sub(committing)))
	return nil
}

// ms is d in milliseconds to a tenth, for the log.
func ms(d time.Duration) float64 { return float64(d.Microseconds()/100) / 10 }

// authenticate runs the checks for the client that sent the message: the connecting
// client, or, behind a trusted relay, the client the relay's Received field records.
// Nothing else the message says about authentication is believed.
func (ss *session) authenticate(raw []byte) *mailauth.Results {
	in := mailauth.Input{IP: net.IP(ss.ip.AsSlice()), Helo: ss.conn.Hostname(), MailFrom: ss.from, Raw: raw}
	if ss.s.trusted(ss.ip) {
		if ip, helo, ok := relayedClient(raw); ok {
			in.IP, in.Helo, in.Relay = net.IP(ip.AsSlice()), helo, ss.ip.String()
		}
	}
	return ss.s.cfg.Auth.Check(context.Background(), in)
}

func (ss *session) Reset() {
	if _, ok := ss.conn.TLSConnectionState(); ok && ss.lc != nil {
		ss.lc.encrypted = true
	}
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
