package threading

import (
	"regexp"
	"strconv"
	"strings"
)

// MessageIDs extracts the ids of an In-Reply-To or References header, without angle
// brackets, in order. Clients that drop the brackets or separate ids with commas are
// common enough to accept; junk between ids is ignored.
func MessageIDs(header string) []string {
	var out []string
	rest := header
	for {
		open := strings.IndexByte(rest, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '>')
		if end < 0 {
			break
		}
		if id := strings.TrimSpace(rest[open+1 : open+end]); id != "" && !strings.ContainsAny(id, " \t<") {
			out = append(out, id)
		}
		rest = rest[open+end+1:]
	}
	if len(out) == 0 {
		for _, f := range strings.FieldsFunc(header, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\r' || r == '\n' }) {
			if strings.Contains(f, "@") {
				out = append(out, strings.Trim(f, "<>"))
			}
		}
	}
	return out
}

// CleanMessageID returns a Message-ID header's id without brackets and whitespace.
func CleanMessageID(header string) string {
	if ids := MessageIDs(header); len(ids) > 0 {
		return ids[0]
	}
	return strings.TrimSpace(header)
}

var subjectTag = regexp.MustCompile(`\[#([1-9][0-9]{0,17})\]`)

// SubjectTag returns the ticket number of the first "[#N]" in a subject, or 0.
func SubjectTag(subject string) int64 {
	m := subjectTag.FindStringSubmatch(subject)
	if m == nil {
		return 0
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// StripSubjectTag removes "[#N]" tags so a subject can be shown or re-tagged cleanly.
func StripSubjectTag(subject string) string {
	return strings.Join(strings.Fields(subjectTag.ReplaceAllString(subject, "")), " ")
}

// forwardPrefix matches the forward markers mail clients put before a subject, in the
// languages of pitfall 6 (docs/pitfalls.md): Fwd/Fw (English), WG (German), TR (French), RV (Spanish),
// Doorst (Dutch), Enc (Portuguese). Reply markers (Re, AW, SV, VS, Réf) are not forwards.
var forwardPrefix = regexp.MustCompile(`(?i)^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|wg|tr|rv|doorst|enc)\s*:`)

// IsForward reports whether a subject says the message forwards another one.
func IsForward(subject string) bool { return forwardPrefix.MatchString(subject) }
