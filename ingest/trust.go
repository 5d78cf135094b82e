package ingest

import (
	"bufio"
	"bytes"
	"context"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// authenticated is the sender half of guarantee 3: the From domain passed DMARC-aligned
// authentication (an aligned DKIM signature or SPF identity passed, as smtpd recorded it
// at the end of DATA), or it is listed in trusted_unauthenticated_domains. Results in
// the message's own headers are never read: only what our smtpd stored with the row.
func (g *Ingester) authenticated(in *store.Inbound, sender string) bool {
	_, domain, _ := strings.Cut(sender, "@")
	if domain == "" {
		return false
	}
	if mailauth.Parse(in.AuthResults).Authenticated(domain) {
		return true
	}
	return g.trusted(sender)
}

// quarantineFlag is the flag of a message whose From domain failed DMARC under
// p=quarantine: smtpd accepted it, and an agent should look before trusting it.
func quarantineFlag(in *store.Inbound) string {
	res := mailauth.Parse(in.AuthResults)
	if res == nil || !res.Quarantine {
		return ""
	}
	return "DMARC policy of " + res.FromDomain + " says quarantine: no aligned DKIM or SPF pass"
}

// bounceRefs hands a delivery status notification about mail mxdesk sent to the ticket
// service (ticket.Service.Bounced) and returns the Message-IDs of ours it names, for
// threading. A DSN names the bounced mail in its returned headers (message/rfc822 or
// text/rfc822-headers, RFC 3464) and sometimes in In-Reply-To or References.
func (g *Ingester) bounceRefs(ctx context.Context, tx *sqlx.Tx, in *store.Inbound, pm *Parsed, class Class) ([]string, error) {
	if !class.Bounce {
		return nil, nil
	}
	ids, reason := dsnReferences(in.Raw)
	ids = append(append(ids, pm.InReplyTo...), pm.References...)
	if len(ids) > 200 {
		ids = ids[:200]
	}
	return g.tickets.Bounced(ctx, tx, ids, reason)
}

// dsnReferences scans a DSN's body for the Message-ID fields of the returned message
// and for the first Diagnostic-Code (or Status) as the reason.
func dsnReferences(raw []byte) (ids []string, reason string) {
	body := raw
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		body = raw[i:]
	}
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 && i < len(raw)-len(body) {
		body = raw[i:]
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	status := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "message-id":
			ids = append(ids, threading.MessageIDs(value)...)
		case "diagnostic-code":
			if reason == "" {
				reason = strings.TrimSpace(value)
			}
		case "status":
			if status == "" {
				status = strings.TrimSpace(value)
			}
		}
	}
	if reason == "" && status != "" {
		reason = "status " + status
	}
	if reason == "" {
		reason = "delivery status notification"
	}
	return ids, storable(reason)
}
