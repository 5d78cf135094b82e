package ingest

import (
	"strings"
)

// Class says what kind of sender a message comes from, for guarantee 4: nothing
// automatic is ever sent in answer to something automatic.
type Class struct {
	// Automatic is true for auto-replies, bounces, list mail and the like.
	Automatic bool
	// Bounce is a delivery status notification.
	Bounce bool
	// Why names the header or rule that decided, for the log and the event.
	Why string
}

// Classify decides from the envelope sender and the headers (RFC 3834 and the
// conventions real autoresponders use) whether a message is automatic.
func Classify(mailFrom string, pm *Parsed, own func(addr string) bool) Class {
	h := pm.Header
	if h == nil {
		h = func(string) string { return "" }
	}
	ct := strings.ToLower(pm.ContentType)
	if ct == "" {
		ct = strings.ToLower(h("Content-Type"))
	}
	report := strings.HasPrefix(ct, "multipart/report")
	if report {
		// A DSN; old MTAs leave out the report-type RFC 6522 requires.
		if rawCT := strings.ToLower(h("Content-Type")); strings.Contains(rawCT, "delivery-status") || !strings.Contains(rawCT, "report-type") {
			return Class{Automatic: true, Bounce: true, Why: "multipart/report delivery-status"}
		}
	}
	if local := systemSender(mailFrom, pm.From.Address, h("From")); local != "" {
		return Class{Automatic: true, Bounce: true, Why: "From " + local}
	}
	if report {
		// Abuse feedback (RFC 5965), read receipts (RFC 8098), TLS reports: machines
		// reporting to machines. Answering one is backscatter to a feedback loop.
		return Class{Automatic: true, Why: "multipart/report"}
	}
	if as := strings.ToLower(strings.TrimSpace(h("Auto-Submitted"))); as != "" && !strings.HasPrefix(as, "no") {
		return Class{Automatic: true, Why: "Auto-Submitted: " + as}
	}
	switch strings.ToLower(strings.TrimSpace(h("Precedence"))) {
	case "bulk", "list", "junk", "auto_reply":
		return Class{Automatic: true, Why: "Precedence: " + h("Precedence")}
	}
	for _, name := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe"} {
		if h(name) != "" {
			return Class{Automatic: true, Why: name}
		}
	}
	if p := autoReplySubject(pm.Subject); p != "" {
		return Class{Automatic: true, Why: "autoresponder subject " + p}
	}
	// After the headers: RFC 3834 (3.3) asks auto-responders to send with a null return
	// path too, and an out-of-office is not a bounce. With nothing else to go on, a
	// message from <> is a delivery notification.
	if mailFrom == "" {
		return Class{Automatic: true, Bounce: true, Why: "empty MAIL FROM"}
	}
	if own != nil && own(pm.From.Address) {
		return Class{Automatic: true, Why: "From one of our own mailboxes"}
	}
	return Class{}
}

// systemSender returns "mailer-daemon" or "postmaster" when the envelope sender or the
// From address is a mail system's own, else "". A From header net/mail could not read
// ("From: mailer-daemon", "From: MAILER-DAEMON <>", both seen in real bounces) is
// searched word by word.
func systemSender(mailFrom, fromAddr, fromHeader string) string {
	cands := []string{strings.ToLower(mailFrom), fromAddr}
	if fromAddr == "" {
		cands = append(cands, strings.Fields(strings.ToLower(fromHeader))...)
	}
	for _, c := range cands {
		local, _, _ := strings.Cut(strings.Trim(c, `<>"',;`), "@")
		switch local {
		case "mailer-daemon", "postmaster":
			return local
		}
	}
	return ""
}
