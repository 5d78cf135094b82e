package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// newSecret returns 256 random bits, URL-safe: session ids, emailed tokens.
func newSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashSecret is what the database keeps of a secret. A plain SHA-256 is enough: the
// secret has 256 random bits, nothing to guess, so a stolen table opens no session.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// NewBinding returns a random value for the browser cookie a sign-up's password is tied to.
func NewBinding() string { return newSecret() }
