package account

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Password length bounds, in characters after NFKC normalisation. NIST SP 800-63B asks
// for at least 8 and for allowing at least 64; the form recommends 15. The upper bound
// only keeps a megabyte of "password" away from the hash function.
const (
	MinPassword         = 8
	RecommendedPassword = 15
	MaxPassword         = 256
)

// PasswordError says why a password was refused, in words for the customer.
type PasswordError struct {
	Reason string // a key: too_short, too_long, only_spaces, common, contains_email, contains_brand
}

func (e *PasswordError) Error() string { return "password refused: " + e.Reason }

//go:embed common-passwords.txt
var commonList string

// common holds the blocklist, lower-cased.
var common = func() map[string]bool {
	m := make(map[string]bool, 10000)
	sc := bufio.NewScanner(strings.NewReader(commonList))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// CommonPasswords is how many passwords the blocklist holds.
func CommonPasswords() int { return len(common) }

// NormalizePassword is what is hashed: NFKC, so the same password typed on two
// keyboards (full-width digits, composed or decomposed accents) is the same password.
func NormalizePassword(pw string) string { return norm.NFKC.String(pw) }

// CheckPassword applies the rules: length, not only spaces, not in the blocklist, not
// containing the address's local part or the brand's name. No composition rules.
func CheckPassword(pw, email, brand string) error {
	if len(pw) > 4*MaxPassword {
		return &PasswordError{"too_long"} // before normalising a megabyte
	}
	pw = NormalizePassword(pw)
	n := utf8.RuneCountInString(pw)
	switch {
	case strings.TrimFunc(pw, unicode.IsSpace) == "" && n > 0:
		return &PasswordError{"only_spaces"}
	case n < MinPassword:
		return &PasswordError{"too_short"}
	case n > MaxPassword:
		return &PasswordError{"too_long"}
	}
	lower := strings.ToLower(pw)
	if common[lower] || common[strings.TrimSpace(lower)] {
		return &PasswordError{"common"}
	}
	if local, _, ok := strings.Cut(strings.ToLower(email), "@"); ok && utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local) {
		return &PasswordError{"contains_email"}
	}
	if b := strings.ToLower(strings.TrimSpace(brand)); utf8.RuneCountInString(b) >= 3 && strings.Contains(lower, b) {
		return &PasswordError{"contains_brand"}
	}
	return nil
}

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultParams are OWASP's argon2id minimum: 19 MiB, two passes, one lane.
var DefaultParams = Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

const keyLen, saltLen = 32, 16

// Hasher hashes and checks passwords with argon2id. Each hash takes MemoryKiB of memory,
// so at most a few run at once: the rest wait their turn (or for their request to end),
// and 50 parallel sign-ins cost 50 turns of one hash, not 50 × 19 MiB.
type Hasher struct {
	p   Params
	sem chan struct{}
}

// NewHasher returns a hasher running at most concurrent hashes at once.
func NewHasher(p Params, concurrent int) *Hasher {
	if concurrent < 1 {
		concurrent = 1
	}
	return &Hasher{p: p, sem: make(chan struct{}, concurrent)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password hash: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of a password: $argon2id$v=19$m=…,t=…,p=…$salt$key.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(NormalizePassword(pw)), salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, keyLen)
	h.release()
	return encodePHC(h.p, salt, key), nil
}

// Verify checks a password against a PHC string. rehash says the string was made with
// other parameters than the hasher's: store a fresh hash now that the password is known.
func (h *Hasher) Verify(ctx context.Context, pw, phc string) (ok, rehash bool, err error) {
	p, salt, key, err := decodePHC(phc)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(NormalizePassword(pw)), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	h.release()
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, ok && p != h.p, nil
}

var b64 = base64.RawStdEncoding

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errPHC = errors.New("password hash: not an argon2id PHC string")

func decodePHC(s string) (Params, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, errPHC
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, errPHC
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8 || p.MemoryKiB > 1<<20 {
		return Params{}, nil, nil, errPHC
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return Params{}, nil, nil, errPHC
	}
	return p, salt, key, nil
}
