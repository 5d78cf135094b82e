package mailauth

import (
	"strings"
)

// Header returns the Authentication-Results header field (RFC 8601) for the results,
// folded, ending in CRLF, for the stored copy of the message. authservID is our host
// name. Every value that came from the client or the message (HELO, MAIL FROM, d=) is
// reduced to characters that cannot end the field or break its syntax.
func (r *Results) Header(authservID string) string {
	var parts []string
	parts = append(parts, token(authservID))
	if len(r.Signatures) == 0 {
		parts = append(parts, "dkim="+orNone(r.DKIM))
	}
	for _, s := range r.Signatures {
		p := "dkim=" + s.Result
		if s.Domain != "" {
			p += " header.d=" + token(s.Domain)
		}
		parts = append(parts, p)
	}
	spf := "spf=" + orNone(r.SPF)
	if r.SPFRelay != "" {
		spf += " (client " + token(r.SPFIP) + " as recorded by trusted relay " + token(r.SPFRelay) + ")"
	}
	if r.SPFDomain != "" {
		spf += " smtp.mailfrom=" + token(r.SPFDomain)
	}
	if r.SPFHelo != "" {
		spf += " smtp.helo=" + token(r.SPFHelo)
	}
	parts = append(parts, spf)
	dm := "dmarc=" + orNone(r.DMARC)
	if r.Policy != "" {
		dm += " (p=" + token(r.Policy) + " dis=" + disposition(r) + ")"
	}
	if r.FromDomain != "" {
		dm += " header.from=" + token(r.FromDomain)
	}
	parts = append(parts, dm)
	return "Authentication-Results: " + strings.Join(parts, ";\r\n\t") + "\r\n"
}

func disposition(r *Results) string {
	switch {
	case r.DMARC != Fail:
		return "none"
	case r.Quarantine:
		return "quarantine"
	case r.Reject():
		return "reject"
	}
	return "none"
}

func orNone(s string) string {
	if s == "" {
		return None
	}
	return s
}

// token keeps the characters a domain, an address or a result may hold, and drops the
// rest (controls, spaces, quotes, parentheses, semicolons), so a hostile value can
// neither start a new header line nor smuggle a result into this one.
func token(s string) string {
	s = strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			return c
		case strings.ContainsRune(".-_@+:[]", c):
			return c
		}
		return -1
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	if s == "" {
		return "unknown"
	}
	return s
}
