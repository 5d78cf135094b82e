// Package resolver is mxdesk's one DNS client: DKIM keys, SPF and DMARC records on the way
// in, MX records on the way out. It exists so that every lookup goes to the server the
// operator configured (`[dns] server`, or the system's resolv.conf), with a timeout, a
// small cache bounded by the records' TTLs, and errors that say whether a failure is
// temporary (SERVFAIL, timeout: the sender must retry, never a pass) or permanent
// (NXDOMAIN, no such record).
//
// Errors are *net.DNSError values returned as they are, not wrapped: go-msgauth and
// blitiri.com.ar/go/spf classify failures with a type assertion on *net.DNSError, so a
// wrapped error would turn a SERVFAIL into a permanent failure.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Config says which server to ask and how patiently.
type Config struct {
	// Server is "host:port" of a recursive resolver; empty means the servers of
	// /etc/resolv.conf.
	Server string
	// Timeout bounds one query to one server (default 5s); the caller's context bounds
	// the whole lookup.
	Timeout time.Duration
	// CacheSize is the number of answers kept (default 1024; negative disables).
	CacheSize int
	// MaxTTL caps how long an answer is cached whatever its TTL says (default 1h).
	MaxTTL time.Duration
	// ResolvConf is the file read when Server is empty (default /etc/resolv.conf).
	ResolvConf string
}

// Resolver answers TXT, MX, A/AAAA and PTR lookups. It is safe for concurrent use.
type Resolver struct {
	servers []string
	timeout time.Duration
	maxTTL  time.Duration
	cache   *cache
	now     func() time.Time
}

// New returns a Resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	r := &Resolver{timeout: cfg.Timeout, maxTTL: cfg.MaxTTL, now: time.Now}
	if r.timeout <= 0 {
		r.timeout = 5 * time.Second
	}
	if r.maxTTL <= 0 {
		r.maxTTL = time.Hour
	}
	size := cfg.CacheSize
	if size == 0 {
		size = 1024
	}
	if size > 0 {
		r.cache = &cache{max: size, m: map[cacheKey]cacheEntry{}}
	}
	if cfg.Server != "" {
		if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
			return nil, fmt.Errorf("dns server %q: want host:port", cfg.Server)
		}
		r.servers = []string{cfg.Server}
		return r, nil
	}
	path := cfg.ResolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("dns: system resolver: %w (set [dns] server)", err)
	}
	for _, s := range cc.Servers {
		r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
	}
	if len(r.servers) == 0 {
		return nil, fmt.Errorf("dns: %s lists no nameserver (set [dns] server)", path)
	}
	return r, nil
}

// Servers returns the servers queried, in order, for logs.
func (r *Resolver) Servers() []string { return slices.Clone(r.servers) }

// IsTemporary reports whether err is a DNS failure worth retrying later (SERVFAIL,
// timeout, unreachable server): a decision that depends on it must be deferred.
func IsTemporary(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && (de.IsTemporary || de.IsTimeout)
}

// IsNotFound reports whether err says the name or the record does not exist.
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// LookupTXT returns the TXT records of name, each one's strings joined (as
// net.LookupTXT does, and as DKIM keys longer than 255 bytes need).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// LookupMX returns the MX records of name sorted by preference.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := r.query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	var out []*net.MX
	for _, rr := range rrs {
		if m, ok := rr.(*dns.MX); ok {
			out = append(out, &net.MX{Host: m.Mx, Pref: m.Preference})
		}
	}
	slices.SortStableFunc(out, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	return out, nil
}

// LookupIPAddr returns the A and AAAA addresses of host. One family failing
// temporarily is an error only when the other gave nothing.
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	var firstErr error
	notFound := 0
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := r.query(ctx, host, qt)
		if err != nil {
			if IsNotFound(err) {
				notFound++
			} else if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, rr := range rrs {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, net.IPAddr{IP: a.A})
			case *dns.AAAA:
				out = append(out, net.IPAddr{IP: a.AAAA})
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// LookupAddr returns the PTR names of an IP address.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	arpa, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	rrs, err := r.query(ctx, arpa, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, p.Ptr)
		}
	}
	return out, nil
}

// query asks the servers in turn for name/qtype and returns the answer's records of
// that type (a recursive server puts the CNAME chain's target records beside it).
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fqdn := dns.Fqdn(strings.ToLower(name))
	key := cacheKey{fqdn, qtype}
	if e, ok := r.cache.get(key, r.now()); ok {
		return e.rrs, e.err
	}
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
	}
	var lastErr error
	for _, server := range r.servers {
		rrs, ttl, err := r.exchange(ctx, fqdn, qtype, server)
		if err != nil && IsTemporary(err) {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		now := r.now()
		r.cache.put(key, cacheEntry{rrs: rrs, err: err, expires: now.Add(min(ttl, r.maxTTL))}, now)
		return rrs, err
	}
	return nil, lastErr
}

// negativeTTL bounds how long a missing record is remembered when the server's SOA does
// not say (RFC 2308 caps it at the SOA minimum; a publisher fixing a record waits no
// longer than this).
const negativeTTL = 5 * time.Minute

func (r *Resolver) exchange(ctx context.Context, fqdn string, qtype uint16, server string) ([]dns.RR, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	qctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: r.timeout}
	resp, _, err := c.ExchangeContext(qctx, m, server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(qctx, m, server)
	}
	name := strings.TrimSuffix(fqdn, ".")
	if err != nil {
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
		return nil, 0, &net.DNSError{Err: err.Error(), Name: name, Server: server, IsTimeout: timeout, IsTemporary: true}
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, negTTL(resp), &net.DNSError{Err: "no such host", Name: name, Server: server, IsNotFound: true}
	default:
		// SERVFAIL above all; REFUSED and the rest mean this server cannot answer now,
		// not that the record does not exist.
		return nil, 0, &net.DNSError{Err: "server answered " + dns.RcodeToString[resp.Rcode], Name: name, Server: server, IsTemporary: true}
	}
	var rrs []dns.RR
	ttl := time.Duration(-1)
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype != qtype {
			continue
		}
		rrs = append(rrs, rr)
		if t := time.Duration(rr.Header().Ttl) * time.Second; ttl < 0 || t < ttl {
			ttl = t
		}
	}
	if len(rrs) == 0 {
		return nil, negTTL(resp), &net.DNSError{Err: "no such record", Name: name, Server: server, IsNotFound: true}
	}
	return rrs, ttl, nil
}

func negTTL(resp *dns.Msg) time.Duration {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(time.Duration(min(soa.Minttl, soa.Hdr.Ttl))*time.Second, negativeTTL)
		}
	}
	return negativeTTL
}

type cacheKey struct {
	name  string
	qtype uint16
}

type cacheEntry struct {
	rrs     []dns.RR
	err     error
	expires time.Time
}

// cache holds answers until their TTL runs out. When full it first drops expired
// entries, then arbitrary ones: a small cache for the burst of lookups one message
// causes (DKIM key, DMARC, SPF includes) and for the next message of the same sender,
// not a resolver.
type cache struct {
	mu  sync.Mutex
	max int
	m   map[cacheKey]cacheEntry
}

func (c *cache) get(k cacheKey, now time.Time) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.expires) {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *cache) put(k cacheKey, e cacheEntry, now time.Time) {
	if c == nil || !e.expires.After(now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = e
}
