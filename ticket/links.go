package ticket

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Link actions. Each link does one thing to one ticket; the action, ticket, argument
// and expiry are all under the signature.
const (
	ActionView  = "view"
	ActionClose = "close"
	ActionRate  = "rate"
)

// Link is a decoded signed link.
type Link struct {
	Action   string
	TicketID int64
	Arg      string // the rating for ActionRate
	Expires  time.Time
	// Nonce makes single-use links single-use: the first use is recorded under it. All
	// rating links of one feedback request share a nonce, so only one rating counts.
	Nonce string
}

// Link errors, each shown to the visitor as a page that says what happened.
var (
	ErrLinkInvalid = errors.New("this link is not valid: it may be incomplete or altered")
	ErrLinkExpired = errors.New("this link has expired")
)

// Links signs and checks the links in notifications with the server secret.
type Links struct {
	key     []byte
	baseURL string
	now     func() time.Time
}

// NewLinks returns a signer for links under baseURL (portal.base_url).
func NewLinks(secret []byte, baseURL string) *Links {
	return &Links{key: append([]byte("mxdesk links v1\x00"), secret...), baseURL: strings.TrimRight(baseURL, "/"), now: time.Now}
}

// NewNonce returns a random nonce for a single-use link or group of links.
func NewNonce() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// URL returns the absolute URL of a signed link.
func (l *Links) URL(link Link) string { return l.baseURL + "/l/" + l.Token(link) }

// Token encodes and signs a link.
func (l *Links) Token(link Link) string {
	payload := strings.Join([]string{link.Action, strconv.FormatInt(link.TicketID, 10), link.Arg,
		strconv.FormatInt(link.Expires.Unix(), 10), link.Nonce}, "|")
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return p + "." + l.mac(p)
}

func (l *Links) mac(p string) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(p))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// Parse checks a token's signature and expiry.
func (l *Links) Parse(token string) (Link, error) {
	p, mac, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(l.mac(p))) {
		return Link{}, ErrLinkInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Link{}, ErrLinkInvalid
	}
	f := strings.Split(string(raw), "|")
	if len(f) != 5 {
		return Link{}, ErrLinkInvalid
	}
	id, err1 := strconv.ParseInt(f[1], 10, 64)
	exp, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return Link{}, ErrLinkInvalid
	}
	link := Link{Action: f[0], TicketID: id, Arg: f[2], Expires: time.Unix(exp, 0), Nonce: f[4]}
	if l.now().After(link.Expires) {
		return link, ErrLinkExpired
	}
	return link, nil
}
