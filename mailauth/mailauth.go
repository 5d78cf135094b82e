// Package mailauth decides whether an inbound message really comes from the domain in its
// From header: DKIM (every signature, go-msgauth), SPF (blitiri.com.ar/go/spf) and DMARC
// (record parsing by go-msgauth; lookup with the organizational-domain fallback and the
// alignment written here, RFC 7489). smtpd runs it at the end of DATA, acts on the
// verdict (451 4.4.3 when a DNS failure leaves the answer open, 550 5.7.1 for p=reject)
// and stores the Results with the message; ingest reads them back for the sender rule of
// guarantee 3. It never trusts results other hosts wrote into the message.
//
// Every DNS query goes through the Resolver it is given (package resolver in serve),
// bounded by the caller's context.
package mailauth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// Resolver is the DNS the checks use; *resolver.Resolver implements it. Errors must be
// bare *net.DNSError values (the libraries type-assert them to tell temporary failures).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Result values, as RFC 8601 names them.
const (
	Pass      = "pass"
	Fail      = "fail"
	None      = "none"
	TempError = "temperror"
	PermError = "permerror"
)

// Signature is the outcome of one DKIM-Signature.
type Signature struct {
	Domain string `json:"domain"`
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

// Results is what the checks found for one message. It is stored as JSON (inbound and
// messages .auth_results) and shown by `ticket show --json`.
type Results struct {
	// FromDomain is the domain of the single From address ("" when there is none or
	// several, which nothing can align with).
	FromDomain string `json:"from_domain"`
	// DKIM sums up the signatures: pass if one passed, else temperror, fail, permerror,
	// none (no signature) in that order.
	DKIM       string      `json:"dkim"`
	Signatures []Signature `json:"dkim_signatures,omitempty"`
	// SPF is the result for SPFDomain (the MAIL FROM domain, or the HELO name for a null
	// sender) and SPFIP, the client, or the client a trusted relay recorded.
	SPF       string `json:"spf"`
	SPFDomain string `json:"spf_domain,omitempty"`
	SPFIP     string `json:"spf_ip,omitempty"`
	SPFHelo   string `json:"spf_helo,omitempty"`
	// SPFRelay is the trusted relay whose Received header named SPFIP, if any.
	SPFRelay string `json:"spf_relay,omitempty"`
	// DMARC is pass, fail, none (no record), temperror or permerror (several From).
	DMARC string `json:"dmarc"`
	// Policy is the policy that applies to a failure: none, quarantine or reject (after
	// sp= for subdomains and the pct= downgrade).
	Policy string `json:"dmarc_policy,omitempty"`
	// PolicyDomain is where the DMARC record was found (FromDomain or its
	// organizational domain).
	PolicyDomain string `json:"dmarc_domain,omitempty"`
	// AlignedDomain is FromDomain when an aligned DKIM signature or SPF identity passed:
	// the message proves it comes from that domain.
	AlignedDomain string `json:"aligned_domain,omitempty"`
	// AlignedBy names what proved it: "dkim" or "spf".
	AlignedBy string `json:"aligned_by,omitempty"`
	// Temporary says a DNS failure left open a result a decision depends on: the
	// message must be deferred (451 4.4.3), never treated as passing.
	Temporary string `json:"temporary,omitempty"`
	// Quarantine is set when DMARC failed under p=quarantine: accepted, but flagged.
	Quarantine bool `json:"quarantine,omitempty"`
}

// Authenticated reports whether the message proved it comes from domain: the guarantee 3
// test "passes DMARC-aligned authentication".
func (r *Results) Authenticated(domain string) bool {
	return r != nil && r.AlignedDomain != "" && r.Temporary == "" && strings.EqualFold(r.AlignedDomain, domain)
}

// Reject reports whether DMARC failed under p=reject: refused at the end of DATA.
func (r *Results) Reject() bool { return r.DMARC == Fail && r.Policy == string(dmarc.PolicyReject) }

// JSON returns the results as stored.
func (r *Results) JSON() string {
	b, err := json.Marshal(r)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// Parse reads stored results; an empty or unreadable value gives nil (not authenticated).
func Parse(s string) *Results {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var r Results
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil
	}
	return &r
}

// Input is one message and its envelope.
type Input struct {
	// IP and Helo are the SMTP client SPF is evaluated for.
	IP   net.IP
	Helo string
	// Relay is the trusted relay that handed the message over, when IP and Helo come
	// from its Received header; recorded only.
	Relay string
	// MailFrom is the envelope sender, "" for the null sender.
	MailFrom string
	// Raw is the message as the client sent it, without our own header lines.
	Raw []byte
}

// Checker runs the checks. Its zero value is not usable: set Resolver.
type Checker struct {
	Resolver Resolver
	// Timeout bounds all lookups of one message (default 20s).
	Timeout time.Duration
	// MaxSignatures bounds the DKIM signatures verified per message (default 5): each
	// costs a DNS query and an RSA operation, and a message may carry hundreds.
	MaxSignatures int
}

// Check authenticates one message. It always returns results; DNS failures are recorded
// in them, never returned.
func (c *Checker) Check(ctx context.Context, in Input) *Results {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := &Results{}
	froms, fromErr := fromAddresses(in.Raw)
	if fromErr == nil && len(froms) == 1 {
		res.FromDomain = domainOf(froms[0])
	}
	c.checkDKIM(ctx, in.Raw, res)
	c.checkSPF(ctx, in, res)
	c.checkDMARC(ctx, res, fromErr == nil && len(froms) > 1)
	return res
}

func (c *Checker) checkDKIM(ctx context.Context, raw []byte, res *Results) {
	max := c.MaxSignatures
	if max <= 0 {
		max = 5
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		// go-msgauth's LookupTXT has no context: close over ours, so a slow key server
		// costs at most the message's budget.
		LookupTXT:        func(name string) ([]string, error) { return c.Resolver.LookupTXT(ctx, name) },
		MaxVerifications: max,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) && len(verifs) == 0 {
		// The header block itself is unreadable: nothing can be verified.
		res.DKIM = PermError
		res.Signatures = []Signature{{Result: PermError, Reason: err.Error()}}
		return
	}
	for _, v := range verifs {
		s := Signature{Domain: strings.ToLower(strings.TrimSuffix(v.Domain, ".")), Result: Pass}
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			s.Result, s.Reason = TempError, v.Err.Error()
		case dkim.IsPermFail(v.Err):
			s.Result, s.Reason = PermError, v.Err.Error()
		default:
			// A body-hash or signature mismatch is neither a temporary nor a permanent
			// error for go-msgauth; for us it is a plain fail.
			s.Result, s.Reason = Fail, v.Err.Error()
		}
		res.Signatures = append(res.Signatures, s)
	}
	res.DKIM = None
	for _, want := range []string{Pass, TempError, Fail, PermError} {
		for _, s := range res.Signatures {
			if s.Result == want {
				res.DKIM = want
				return
			}
		}
	}
}

func (c *Checker) checkSPF(ctx context.Context, in Input, res *Results) {
	res.SPFHelo = in.Helo
	res.SPFRelay = in.Relay
	if in.IP != nil {
		res.SPFIP = in.IP.String()
	}
	sender := in.MailFrom
	res.SPFDomain = domainOf(sender)
	if sender == "" {
		// RFC 7208 2.4: for the null sender, check postmaster@HELO.
		res.SPFDomain = strings.ToLower(strings.TrimSuffix(in.Helo, "."))
		sender = "postmaster@" + in.Helo
	}
	if in.IP == nil || res.SPFDomain == "" {
		res.SPF = None
		return
	}
	r, _ := spf.CheckHostWithSender(in.IP, in.Helo, sender, spf.WithResolver(c.Resolver), spf.WithContext(ctx))
	res.SPF = string(r)
}

func (c *Checker) checkDMARC(ctx context.Context, res *Results, multipleFrom bool) {
	if multipleFrom {
		// RFC 7489 6.6.1: several authors cannot be evaluated; nothing aligns.
		res.DMARC = PermError
		return
	}
	if res.FromDomain == "" {
		res.DMARC = None
		return
	}
	rec, where, err := c.lookupDMARC(ctx, res.FromDomain)
	adkim, aspf := dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed
	if rec != nil {
		adkim, aspf = string(rec.DKIMAlignment), string(rec.SPFAlignment)
	}
	// Alignment counts with or without a DMARC record: a domain that signs its own mail
	// proves its mail whether or not it publishes a policy (relaxed alignment then).
	for _, s := range res.Signatures {
		if s.Result == Pass && aligned(s.Domain, res.FromDomain, adkim) {
			res.AlignedDomain, res.AlignedBy = res.FromDomain, "dkim"
			break
		}
	}
	if res.AlignedDomain == "" && res.SPF == string(spf.Pass) && aligned(res.SPFDomain, res.FromDomain, aspf) {
		res.AlignedDomain, res.AlignedBy = res.FromDomain, "spf"
	}
	switch {
	case err != nil && errors.Is(err, errDMARCTemp):
		// The policy is unknown, and it may be reject.
		res.DMARC = TempError
		res.Temporary = "dmarc record of " + res.FromDomain + ": " + err.Error()
		return
	case rec == nil:
		res.DMARC = None
	case res.AlignedDomain != "":
		res.DMARC = Pass
	default:
		res.DMARC = Fail
	}
	if rec != nil {
		res.PolicyDomain = where
		p := rec.Policy
		if where != res.FromDomain && rec.SubdomainPolicy != "" {
			p = rec.SubdomainPolicy
		}
		if rec.Percent != nil && *rec.Percent < 100 {
			// RFC 7489 6.6.4: messages not sampled get the next lower policy. Sampling
			// at random would make a retry's fate a coin toss; the domain asked for less
			// than all, so it gets the lower policy every time.
			switch p {
			case dmarc.PolicyReject:
				p = dmarc.PolicyQuarantine
			case dmarc.PolicyQuarantine:
				p = dmarc.PolicyNone
			}
		}
		res.Policy = string(p)
	}
	if res.AlignedDomain == "" {
		// Without an aligned pass, a temporary failure of a check that could have
		// aligned leaves the answer open.
		for _, s := range res.Signatures {
			if s.Result == TempError && aligned(s.Domain, res.FromDomain, adkim) {
				res.DMARC, res.Temporary = TempError, "dkim key of "+s.Domain+": "+s.Reason
				return
			}
		}
		if res.SPF == string(spf.TempError) && aligned(res.SPFDomain, res.FromDomain, aspf) {
			res.DMARC, res.Temporary = TempError, "spf record of "+res.SPFDomain
			return
		}
	}
	if res.DMARC == Fail {
		res.Quarantine = res.Policy == string(dmarc.PolicyQuarantine)
	}
}

var errDMARCTemp = errors.New("temporary DNS failure")

// lookupDMARC finds the record for domain, falling back to its organizational domain
// (RFC 7489 6.6.3; go-msgauth's Lookup has no fallback). It returns the record, the
// domain it was found at, and errDMARCTemp when a lookup failed temporarily.
func (c *Checker) lookupDMARC(ctx context.Context, domain string) (*dmarc.Record, string, error) {
	rec, err := c.dmarcAt(ctx, domain)
	if rec != nil || err != nil {
		return rec, domain, err
	}
	org := OrgDomain(domain)
	if org == domain {
		return nil, "", nil
	}
	rec, err = c.dmarcAt(ctx, org)
	return rec, org, err
}

func (c *Checker) dmarcAt(ctx context.Context, domain string) (*dmarc.Record, error) {
	txts, err := c.Resolver.LookupTXT(ctx, "_dmarc."+domain)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %v", errDMARCTemp, err)
	}
	var found []*dmarc.Record
	for _, txt := range txts {
		if !strings.HasPrefix(strings.TrimSpace(txt), "v=DMARC1") {
			continue
		}
		rec, err := dmarc.Parse(txt)
		if err != nil {
			continue // RFC 7489 6.6.3: an unparsable record is no record
		}
		found = append(found, rec)
	}
	if len(found) != 1 {
		return nil, nil // none, or several (RFC 7489 6.6.3: then none applies)
	}
	return found[0], nil
}

// OrgDomain returns the organizational domain (public suffix plus one label) of a
// domain, or the domain itself when it has none (a bare suffix, an unknown TLD).
func OrgDomain(domain string) string {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

// aligned tells whether an authenticated domain aligns with the From domain: the same
// name (strict), or the same organizational domain (relaxed).
func aligned(authDomain, fromDomain, mode string) bool {
	a := strings.ToLower(strings.TrimSuffix(authDomain, "."))
	f := strings.ToLower(strings.TrimSuffix(fromDomain, "."))
	if a == "" || f == "" {
		return false
	}
	if a == f {
		return true
	}
	return mode != string(dmarc.AlignmentStrict) && OrgDomain(a) == OrgDomain(f)
}

func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(addr[at+1:], "<> "), "."))
}

// fromParser reads From fields whatever charset their display names use: only the
// address matters here, and an unknown charset must not make a From unreadable (and so
// unauthenticatable).
var fromParser = &mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// fromAddresses returns the addresses of the message's From header fields (all of them:
// two From fields are as suspicious as two addresses in one).
func fromAddresses(raw []byte) ([]string, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	h, err := tp.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return nil, fmt.Errorf("header: %w", err)
	}
	var out []string
	for _, v := range h.Values("From") {
		list, err := fromParser.ParseList(v)
		if err != nil {
			return nil, fmt.Errorf("From %q: %w", v, err)
		}
		for _, a := range list {
			out = append(out, strings.ToLower(a.Address))
		}
	}
	return out, nil
}
