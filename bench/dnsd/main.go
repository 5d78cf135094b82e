// Command dnsd is the loopback DNS server of mxdesk's bench: it answers TXT queries from a
// zone file of "name<TAB or space>value" lines (a DKIM key, SPF and DMARC records for the
// bench's sender domain), NXDOMAIN for other names, and nothing else. mxdesk is pointed
// at it with `[dns] server`, so DKIM verification is part of the measured cost without
// any real DNS.
//
//	dnsd -listen 127.0.0.1:5353 -zone zone.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5353", "UDP and TCP address (loopback)")
	zone := flag.String("zone", "", "file of `name value` TXT records")
	flag.Parse()
	recs, err := readZone(*zone)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsd:", err)
		os.Exit(1)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if len(r.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
			_ = w.WriteMsg(m)
			return
		}
		q := r.Question[0]
		vals, ok := recs[strings.ToLower(q.Name)]
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeTXT:
			for _, v := range vals {
				m.Answer = append(m.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 3600},
					Txt: split255(v),
				})
			}
		}
		// Other types of a known name: NOERROR with no answer (the name has TXT only).
		_ = w.WriteMsg(m)
	})
	udp := &dns.Server{Addr: *listen, Net: "udp", Handler: h}
	tcp := &dns.Server{Addr: *listen, Net: "tcp", Handler: h}
	errc := make(chan error, 2)
	go func() { errc <- udp.ListenAndServe() }()
	go func() { errc <- tcp.ListenAndServe() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "dnsd:", err)
		os.Exit(1)
	}
	_ = udp.Shutdown()
	_ = tcp.Shutdown()
}

// readZone reads "name value" lines; a name may appear more than once.
func readZone(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			name, val, ok = strings.Cut(line, "\t")
		}
		if !ok {
			return nil, fmt.Errorf("%s: want `name value`: %q", path, line)
		}
		recs[dns.Fqdn(strings.ToLower(name))] = append(recs[dns.Fqdn(strings.ToLower(name))], strings.TrimSpace(val))
	}
	return recs, sc.Err()
}

// split255 cuts a TXT value into the 255-byte strings DNS carries.
func split255(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}
