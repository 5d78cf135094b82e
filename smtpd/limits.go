package smtpd

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Connection-level limits live below go-smtp, on the listener and the net.Conn, because
// go-smtp has no hook for them: it never tells the backend about NOOP, VRFY or a
// command it did not understand, and it fixes its own error threshold at 3 syntax errors.

// limitListener admits a connection only under the server's limits: at most
// MaxConnections at once, at most ConnRatePerIP new connections per minute from one
// address (one /64 for IPv6), trusted networks exempt from the rate. A refused client
// is told 421 4.7.0 (RFC 5321 3.8: the server may answer 421 instead of the greeting)
// and disconnected; on the implicit-TLS listener it is only disconnected, as it expects
// a TLS handshake and could not read the reply.
type limitListener struct {
	net.Listener
	s           *Server
	implicitTLS bool
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		why := l.s.admit(ip)
		if why == "" {
			lc := &limitConn{Conn: c, s: l.s, ip: ip, encrypted: l.implicitTLS}
			l.s.open.Store(lc, struct{}{})
			return lc, nil
		}
		l.s.log.Warn("smtpd: connection refused", "remote", c.RemoteAddr().String(), "why", why)
		if !l.implicitTLS {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte("421 4.7.0 " + why + ", try again later\r\n"))
		}
		c.Close()
	}
}

// admit takes a connection slot and a rate token for ip, or says why not.
func (s *Server) admit(ip netip.Addr) string {
	if s.cfg.MaxConnections > 0 && s.conns.Add(1) > int64(s.cfg.MaxConnections) {
		s.conns.Add(-1)
		return "Too many connections"
	}
	if s.cfg.MaxConnections <= 0 {
		s.conns.Add(1)
	}
	if s.trusted(ip) || s.cfg.ConnRatePerIP <= 0 {
		return ""
	}
	if !s.rate.allow(rateKey(ip), s.cfg.ConnRatePerIP, s.now()) {
		s.conns.Add(-1)
		return "Too many connections from your address"
	}
	return ""
}

// trusted reports whether ip is in trusted_networks.
func (s *Server) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.cfg.TrustedNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// rateKey groups an IPv6 client by its /64: one host gets a whole /64 and could
// otherwise take a fresh address per connection.
func rateKey(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return ip
}

// rateLimiter is a token bucket per address: perMinute tokens, refilled continuously.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory under a flood from many addresses.
const maxBuckets = 100_000

func (r *rateLimiter) allow(ip netip.Addr, perMinute int, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buckets == nil {
		r.buckets = map[netip.Addr]*bucket{}
	}
	b, ok := r.buckets[ip]
	if !ok {
		if len(r.buckets) >= maxBuckets {
			r.prune(perMinute, now)
		}
		b = &bucket{tokens: float64(perMinute), last: now}
		r.buckets[ip] = b
	}
	b.tokens = min(float64(perMinute), b.tokens+now.Sub(b.last).Minutes()*float64(perMinute))
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune forgets buckets that have refilled (they are as good as new), and if that is
// not enough, all of them: forgetting is the failure mode that keeps mail flowing.
func (r *rateLimiter) prune(perMinute int, now time.Time) {
	for ip, b := range r.buckets {
		if b.tokens+now.Sub(b.last).Minutes()*float64(perMinute) >= float64(perMinute) {
			delete(r.buckets, ip)
		}
	}
	if len(r.buckets) >= maxBuckets {
		clear(r.buckets)
	}
}

// limitConn counts the replies written on a connection (one per command, whatever the
// command, and whether or not go-smtp handled it itself) and closes the connection past
// MaxCommands; it also closes after a reply the session marked final, and keeps a DATA
// body from dripping in forever.
type limitConn struct {
	net.Conn
	s         *Server
	ip        netip.Addr
	replies   int
	errors    int  // replies of the session's own refusals, for MaxErrors
	encrypted bool // after STARTTLS or on the implicit-TLS listener: no plaintext injection
	// requireTLS is require_tls when the connection arrived: a reload leaves it alone.
	requireTLS bool
	// closeAfter is set by the session: the next reply is the last one.
	closeAfter atomic.Bool
	inData     atomic.Bool
	dataStart  time.Time
	closeOnce  sync.Once
	// pending holds a reply's continuation lines ("250-…") until its last line comes:
	// go-smtp flushes every line, and a seven-line EHLO reply would otherwise cost us
	// seven writes and the client as many reads.
	pending []byte
}

func (c *limitConn) Write(p []byte) (int, error) {
	// go-smtp flushes each reply line; only the last line of a reply ("250 ", not
	// "250-") ends a command. Encrypted, the lines cannot be read: each counts, which
	// makes the limit a little stricter for a client that asks EHLO over and over.
	final := c.encrypted || len(p) < 4 || p[3] != '-'
	if final && c.s.cfg.MaxCommands > 0 && c.replies >= c.s.cfg.MaxCommands+1 { // +1: the greeting
		c.s.log.Warn("smtpd: too many commands, connection closed", "remote", c.RemoteAddr().String(), "limit", c.s.cfg.MaxCommands)
		if !c.encrypted {
			c.write([]byte("421 4.7.0 Too many commands, closing connection\r\n"))
		}
		c.Close()
		return len(p), nil
	}
	if !final && continuation(p) && len(c.pending)+len(p) <= 4096 {
		c.pending = append(c.pending, p...)
		return len(p), nil
	}
	n, err := c.write(p)
	if final {
		c.replies++
	}
	if final && c.closeAfter.Load() {
		c.Close()
	}
	return n, err
}

// write writes p behind any held continuation lines, in one write.
func (c *limitConn) write(p []byte) (int, error) {
	if len(c.pending) == 0 {
		return c.Conn.Write(p)
	}
	buf := append(c.pending, p...)
	c.pending = c.pending[:0]
	n, err := c.Conn.Write(buf)
	return max(0, n-(len(buf)-len(p))), err
}

// continuation tells whether p is one continuation line of a reply in the clear: three
// digits, '-', up to CRLF. A TLS record never starts with a digit.
func continuation(p []byte) bool {
	if len(p) < 6 || len(p) > 1024 || p[3] != '-' || p[len(p)-2] != '\r' || p[len(p)-1] != '\n' {
		return false
	}
	for _, b := range p[:3] {
		if b < '0' || b > '9' {
			return false
		}
	}
	return true
}

// Read bounds the DATA phase. go-smtp arms the read deadline once per command line, so
// without this a body could take one read timeout per… nothing: the whole body would
// have one timeout. Here each read of the body gets the idle timeout again, and the body
// as a whole at most dataTimeout.
//
// A body read that times out ends the connection, here rather than in the session:
// with BDAT (RFC 3030, which go-smtp always offers) the session only learns that the
// transaction was reset, while go-smtp answers 554, a permanent refusal of a sender
// that was only slow, and goes on reading commands from the middle of a chunk it could
// not finish discarding. Closed without a reply, the connection makes the sender retry,
// as after a DATA body that timed out.
func (c *limitConn) Read(p []byte) (int, error) {
	inData := c.inData.Load()
	if inData && c.s.cfg.ReadTimeout > 0 {
		d := time.Now().Add(c.s.cfg.ReadTimeout)
		if end := c.dataStart.Add(c.s.dataTimeout()); end.Before(d) {
			d = end
		}
		c.Conn.SetReadDeadline(d)
	}
	n, err := c.Conn.Read(p)
	var ne net.Error
	if inData && errors.As(err, &ne) && ne.Timeout() {
		c.Close()
	}
	return n, err
}

func (c *limitConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.s.conns.Add(-1)
		c.s.open.Delete(c)
	})
	return err
}

// dataTimeout is the most one DATA body may take: four read timeouts (20 min by
// default), enough for 25 MiB at 25 KB/s.
func (s *Server) dataTimeout() time.Duration { return 4 * s.cfg.ReadTimeout }
