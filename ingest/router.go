package ingest

import (
	"strings"
	"sync/atomic"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/threading"
)

// Router knows which recipient addresses lead where: the configured mailboxes and their
// signed reply addresses. smtpd asks it at RCPT, ingest when it routes.
type Router struct {
	// mailboxes is replaced whole by SetMailboxes (serve's SIGHUP), never changed.
	mailboxes atomic.Pointer[[]config.Mailbox]
	signer    *threading.Signer
}

// NewRouter returns a Router over the configured mailboxes.
func NewRouter(mailboxes []config.Mailbox, signer *threading.Signer) *Router {
	r := &Router{signer: signer}
	r.SetMailboxes(mailboxes)
	return r
}

// SetMailboxes replaces the mailboxes: sessions and ingest see the new list from their
// next lookup on.
func (r *Router) SetMailboxes(mailboxes []config.Mailbox) {
	mbs := append([]config.Mailbox(nil), mailboxes...)
	r.mailboxes.Store(&mbs)
}

// Resolve returns the route of a recipient. ok is false for unknown addresses and for
// reply addresses with a bad token: those must never fall back to the plain mailbox, or a
// tampered token would still reach a team.
func (r *Router) Resolve(rcpt string) (Route, bool) {
	base, tag, hasTag := threading.SplitSubaddress(strings.ToLower(strings.TrimSpace(rcpt)))
	var mb *config.Mailbox
	mbs := *r.mailboxes.Load()
	for i := range mbs {
		if strings.EqualFold(mbs[i].Address, base) {
			mb = &mbs[i]
			break
		}
	}
	if mb == nil {
		return Route{}, false
	}
	rt := Route{Mailbox: strings.ToLower(mb.Address), Team: mb.Team, Priority: mb.Priority}
	if !hasTag {
		return rt, true
	}
	id, role, ok := r.signer.Parse(tag)
	if !ok {
		return Route{}, false
	}
	rt.TicketID, rt.Agent = id, role == threading.RoleAgent
	return rt, true
}

// Known reports whether mxdesk accepts mail for rcpt: a mailbox, or one of its reply
// addresses with a valid token. smtpd asks it at RCPT and answers false 550 5.1.1.
func (r *Router) Known(rcpt string) bool {
	_, ok := r.Resolve(rcpt)
	return ok
}

// Own reports whether addr is one of our mailboxes or their reply addresses.
func (r *Router) Own(addr string) bool {
	base, _, _ := threading.SplitSubaddress(strings.ToLower(addr))
	for _, mb := range *r.mailboxes.Load() {
		if strings.EqualFold(mb.Address, base) {
			return true
		}
	}
	return false
}
