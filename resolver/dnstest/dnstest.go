// Package dnstest runs a real DNS server on loopback for tests: the code under test
// speaks the DNS protocol to it over UDP and TCP, exactly as it would to a recursive
// resolver, and a test can make one name answer SERVFAIL or time out. It serves only what
// the test put in it and is gone when the test ends.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is an authoritative-looking DNS server for a test.
type Server struct {
	// Addr is "127.0.0.1:port", for [dns] server.
	Addr string

	mu       sync.Mutex
	rrs      map[string][]dns.RR // owner name (FQDN, lower case) -> records
	servfail map[string]bool
	silent   map[string]bool
	queries  atomic.Int64
}

// Start runs a server on a free loopback port (UDP and TCP) until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{rrs: map[string][]dns.RR{}, servfail: map[string]bool{}, silent: map[string]bool{}}
	var pc net.PacketConn
	var l net.Listener
	for range 20 {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("dnstest: no port free for both UDP and TCP")
	}
	s.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: l, Handler: s}
	var wg sync.WaitGroup
	for _, srv := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() { defer wg.Done(); srv.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
		wg.Wait()
	})
	return s
}

func fqdn(name string) string { return dns.Fqdn(strings.ToLower(name)) }

func (s *Server) add(rr dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := rr.Header().Name
	s.rrs[n] = append(s.rrs[n], rr)
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: fqdn(name), Rrtype: t, Class: dns.ClassINET, Ttl: 300}
}

// TXT adds one TXT record per value; values longer than 255 bytes are split into
// strings the way zone files and DKIM key publishers do.
func (s *Server) TXT(name string, values ...string) {
	for _, v := range values {
		var parts []string
		for len(v) > 255 {
			parts = append(parts, v[:255])
			v = v[255:]
		}
		parts = append(parts, v)
		s.add(&dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: parts})
	}
}

// A adds A or AAAA records.
func (s *Server) A(name string, ips ...string) {
	for _, ip := range ips {
		p := net.ParseIP(ip)
		if p4 := p.To4(); p4 != nil {
			s.add(&dns.A{Hdr: hdr(name, dns.TypeA), A: p4})
		} else {
			s.add(&dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: p})
		}
	}
}

// MX adds an MX record.
func (s *Server) MX(name string, pref uint16, host string) {
	s.add(&dns.MX{Hdr: hdr(name, dns.TypeMX), Preference: pref, Mx: fqdn(host)})
}

// PTR adds a PTR record for ip.
func (s *Server) PTR(ip, host string) {
	arpa, err := dns.ReverseAddr(ip)
	if err != nil {
		panic(err)
	}
	s.add(&dns.PTR{Hdr: hdr(arpa, dns.TypePTR), Ptr: fqdn(host)})
}

// ServFail makes every query for name answer SERVFAIL, as a broken authoritative
// server behind a recursive resolver does.
func (s *Server) ServFail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[fqdn(name)] = true
}

// Silent makes queries for name go unanswered (the client times out).
func (s *Server) Silent(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[fqdn(name)] = true
}

// Queries returns how many queries the server has received.
func (s *Server) Queries() int64 { return s.queries.Load() }

// ServeDNS implements dns.Handler: records of the asked type, NOERROR with no answer
// for a name that has other types, NXDOMAIN for a name with nothing.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	silent, servfail := s.silent[name], s.servfail[name]
	rrs, exists := s.rrs[name]
	s.mu.Unlock()
	switch {
	case silent:
		time.Sleep(10 * time.Millisecond)
		return
	case servfail:
		m.SetRcode(req, dns.RcodeServerFailure)
	case !exists:
		m.SetRcode(req, dns.RcodeNameError)
		m.Ns = []dns.RR{soa()}
	default:
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		if len(m.Answer) == 0 {
			m.Ns = []dns.RR{soa()}
		}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := 512
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

func soa() dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: "test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "ns.test.", Mbox: "hostmaster.test.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}
}
