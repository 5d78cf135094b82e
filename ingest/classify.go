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
	if strings.HasPrefix(ct, "multipart/report") && strings.Contains(strings.ToLower(h("Content-Type")), "delivery-status") {
		return Class{Automatic: true, Bounce: true, Why: "multipart/report delivery-status"}
	}
	if mailFrom == "" {
		return Class{Automatic: true, Bounce: true, Why: "empty MAIL FROM"}
	}
	local, _, _ := strings.Cut(pm.From.Address, "@")
	switch local {
	case "mailer-daemon", "postmaster":
		return Class{Automatic: true, Bounce: true, Why: "From " + local}
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
	if own != nil && own(pm.From.Address) {
		return Class{Automatic: true, Why: "From one of our own mailboxes"}
	}
	return Class{}
}
