package ticket

import (
	"strings"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// ReadableText is a message's text as people read it: a customer's mail without the
// quoted history and signature it carries (the full text stays stored). An agent's text
// and a note are already what was meant, and a forward is all "quote" with the quote
// the point: those are kept whole. The agents' mail, the portal, the API and `ticket
// show` all show this, so one message reads the same everywhere.
func ReadableText(m *store.Message) string {
	if m.Direction == store.DirOut || threading.IsForward(m.Subject) {
		return strings.TrimSpace(m.Text)
	}
	return strings.TrimSpace(threading.StripText(m.Text))
}
