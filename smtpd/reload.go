package smtpd

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
)

// What a running server can change without a restart: the domains it is the destination
// for, and whether it offers STARTTLS (with which certificate, and whether it insists on
// it). New sessions see the new values; sessions already open keep what they started
// with, so a reload never changes the rules in the middle of a conversation.

// tlsState is one STARTTLS setting: nil cert is plain text only.
type tlsState struct {
	cert    *tls.Certificate
	require bool
}

// SetLocalDomains replaces the domains mxdesk is the destination for, from the next RCPT
// on (RCPT is answered from them, so an open session sees them too: a domain that was
// removed is a relay attempt from now on). Empty: every domain is local.
func (s *Server) SetLocalDomains(domains []string) {
	if len(domains) == 0 {
		s.local.Store(nil)
		return
	}
	m := make(map[string]bool, len(domains))
	for _, d := range domains {
		m[strings.TrimSuffix(strings.ToLower(d), ".")] = true
	}
	s.local.Store(&m)
}

// isLocal reports whether mail for domain is ours to take.
func (s *Server) isLocal(domain string) bool {
	m := s.local.Load()
	return m == nil || (*m)[strings.TrimSuffix(strings.ToLower(domain), ".")]
}

// SetTLS sets STARTTLS for the sessions that start from now on: cert nil turns it off
// (and require must then be false); a new cert also serves every TLS handshake from now
// on, including those of sessions already open. A session open while STARTTLS is turned
// off keeps it offered with the last certificate; one open while it is turned on goes on
// without it.
func (s *Server) SetTLS(cert *tls.Certificate, require bool) {
	if cert != nil {
		s.cert.Store(cert)
	}
	s.tls.Store(&tlsState{cert: cert, require: require && cert != nil})
}

// getCertificate serves the latest certificate: handshakes after a reload present the
// new one without the listener being rebuilt.
func (s *Server) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

// connQueue is a listener fed by the server's own accept loop: go-smtp fixes its
// STARTTLS setting per smtp.Server, so one inner server offers it and one does not, and
// the accept loop hands each new connection to the one in force when it arrived.
type connQueue struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

// put hands c to the inner server; false when that server has shut down.
func (q *connQueue) put(c net.Conn) bool {
	select {
	case q.conns <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Close() error {
	q.closed.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr {
	if q.addr == nil {
		return &net.TCPAddr{}
	}
	return q.addr
}
