package smtpd

import (
	"bytes"
	"strings"
)

// dropOurAuthResults removes Authentication-Results fields that claim to come from us
// (authserv-id equal to our hostname) from a message's header: a sender could otherwise
// forge a "pass" that a later reader takes for ours. RFC 8601 section 5 asks exactly
// this of the border MTA. Other hosts' fields stay, untrusted but informative. The
// message comes back unchanged (not copied) when there is nothing to drop.
func dropOurAuthResults(raw []byte, authservID string) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(raw)
	}
	head := raw[:end]
	if !bytes.Contains(bytes.ToLower(head), []byte("authentication-results:")) {
		return raw
	}
	id := strings.ToLower(authservID)
	var out bytes.Buffer
	dropped := false
	dropping := false
	for start := 0; start < end; {
		i := bytes.Index(raw[start:end], []byte("\r\n"))
		next := end
		if i >= 0 {
			next = start + i + 2
		}
		line := raw[start:next]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !dropping {
				out.Write(line)
			}
			start = next
			continue
		}
		dropping = false
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(strings.TrimSpace(string(name)), "Authentication-Results") {
			v := strings.ToLower(strings.TrimSpace(string(value)))
			if v == id || strings.HasPrefix(v, id+";") || strings.HasPrefix(v, id+" ") || strings.HasPrefix(v, id+"\r") {
				dropping, dropped = true, true
				start = next
				continue
			}
		}
		out.Write(line)
		start = next
	}
	if !dropped {
		return raw
	}
	out.Write(raw[end:])
	return out.Bytes()
}
