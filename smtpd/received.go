package smtpd

import (
	"bytes"
	"net/netip"
	"strings"
)

// relayedClient reads the client that the topmost Received field records: the field the
// trusted relay that connected to us added when it took the message from the outside.
// SPF is evaluated for that client, as the relay's own address says nothing about the
// sender. Postfix and Sendmail write "from HELO (RDNS [IP])", Exim "from RDNS ([IP]
// helo=HELO)" or "from [IP] (helo=HELO)". ok is false when no address can be read;
// the caller then evaluates the relay itself.
func relayedClient(raw []byte) (ip netip.Addr, helo string, ok bool) {
	v, found := topmostReceived(raw)
	if !found {
		return netip.Addr{}, "", false
	}
	v = strings.Join(strings.Fields(v), " ")
	lower := strings.ToLower(v)
	if !strings.HasPrefix(lower, "from ") {
		return netip.Addr{}, "", false
	}
	clause := v[5:]
	if by := strings.Index(strings.ToLower(clause), " by "); by >= 0 {
		clause = clause[:by]
	}
	first, _, _ := strings.Cut(clause, " ")
	helo = first
	if i := strings.Index(strings.ToLower(clause), "helo="); i >= 0 {
		h := clause[i+5:]
		if j := strings.IndexAny(h, " )"); j >= 0 {
			h = h[:j]
		}
		helo = h
	}
	for rest := clause; ; {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], ']')
		if end < 0 {
			break
		}
		lit := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		if len(lit) > 5 && strings.EqualFold(lit[:5], "ipv6:") {
			lit = lit[5:]
		}
		if a, err := netip.ParseAddr(lit); err == nil {
			return a.Unmap(), strings.Trim(helo, "[]"), true
		}
	}
	return netip.Addr{}, "", false
}

// topmostReceived returns the unfolded value of the first Received field.
func topmostReceived(raw []byte) (string, bool) {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(raw)
	}
	lines := bytes.Split(raw[:end], []byte("\r\n"))
	for i, line := range lines {
		if len(line) < 9 || !bytes.EqualFold(line[:9], []byte("received:")) {
			continue
		}
		v := string(line[9:])
		for _, cont := range lines[i+1:] {
			if len(cont) == 0 || (cont[0] != ' ' && cont[0] != '\t') {
				break
			}
			v += " " + string(cont)
		}
		return v, true
	}
	return "", false
}
