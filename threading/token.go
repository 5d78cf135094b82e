package threading

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strconv"
	"strings"
)

// Role says who a reply address is for. Customers and agents get different addresses
// for the same ticket, so a customer can never reply "as an agent".
type Role byte

// Roles of reply addresses.
const (
	RoleCustomer Role = 't'
	RoleAgent    Role = 'a'
)

// macLen is the number of HMAC bytes kept in a token: 80 bits, far beyond online guessing
// through an SMTP server that refuses bad tokens at RCPT.
const macLen = 10

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Signer makes and checks reply tokens with the server secret.
type Signer struct{ key []byte }

// NewSigner returns a Signer for secret, which must be at least 32 random bytes.
func NewSigner(secret []byte) *Signer { return &Signer{key: append([]byte(nil), secret...)} }

func (s *Signer) mac(role Role, id int64) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("mxdesk reply-address v1\x00"))
	m.Write([]byte{byte(role), 0})
	m.Write([]byte(strconv.FormatInt(id, 10)))
	// Lower case: some MTAs and clients fold the local part, and the check must survive it.
	return strings.ToLower(b32.EncodeToString(m.Sum(nil)[:macLen]))
}

// Token returns the reply token of a ticket for a role, e.g. "t42-mfrggzdfmztwq2lk".
func (s *Signer) Token(role Role, ticketID int64) string {
	return string(role) + strconv.FormatInt(ticketID, 10) + "-" + s.mac(role, ticketID)
}

// Parse checks a token and returns its ticket and role. ok is false for anything not
// made by this Signer, including a valid token whose id or role was edited.
func (s *Signer) Parse(token string) (ticketID int64, role Role, ok bool) {
	token = strings.ToLower(token)
	if len(token) < 3 {
		return 0, 0, false
	}
	role = Role(token[0])
	if role != RoleCustomer && role != RoleAgent {
		return 0, 0, false
	}
	num, mac, found := strings.Cut(token[1:], "-")
	if !found || num == "" || num[0] == '0' || len(num) > 18 {
		return 0, 0, false
	}
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, false
	}
	if !hmac.Equal([]byte(mac), []byte(s.mac(role, id))) {
		return 0, 0, false
	}
	return id, role, true
}

// ReplyAddress puts a token into a mailbox address as a subaddress:
// support@example.com -> support+t42-…@example.com.
func ReplyAddress(mailbox, token string) string {
	local, domain, ok := strings.Cut(mailbox, "@")
	if !ok {
		return mailbox
	}
	return local + "+" + token + "@" + domain
}

// SplitSubaddress splits "local+tag@domain" into "local@domain" and "tag". An address
// without a tag returns it unchanged and "". hasTag tells "support+@x" (empty tag) apart.
func SplitSubaddress(addr string) (base, tag string, hasTag bool) {
	at := strings.LastIndex(addr, "@")
	if at < 0 {
		return addr, "", false
	}
	local, domain := addr[:at], addr[at:]
	plus := strings.IndexByte(local, '+')
	if plus < 0 {
		return addr, "", false
	}
	return local[:plus] + domain, local[plus+1:], true
}
