package smtpd

import (
	"bytes"
	"strings"
)

// headerMessageID returns the Message-ID field of a message's header block (unfolded,
// trimmed), or "", for the log lines about the message: an administrator follows one
// message from SMTP through ingest to the ticket by it and by the spool id.
func headerMessageID(raw []byte) string {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		line := raw
		if i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			return "" // end of the header block
		}
		if len(line) >= 11 && bytes.EqualFold(line[:11], []byte("message-id:")) {
			v := string(line[11:])
			// Folded onto the next line(s).
			for len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
				j := bytes.IndexByte(raw, '\n')
				if j < 0 {
					j = len(raw) - 1
				}
				v += string(bytes.TrimRight(raw[:j+1], "\r\n"))
				raw = raw[j+1:]
			}
			return strings.TrimSpace(v)
		}
	}
	return ""
}
