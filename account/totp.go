package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP per RFC 6238 as every authenticator app does it: SHA-1, 6 digits, 30 s steps.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// totpSkew accepts the step before and after the current one: phones' clocks drift.
	totpSkew = 1
	// RecoveryCodes is how many single-use recovery codes enabling 2FA gives.
	RecoveryCodes = 10
)

// TOTPSetup is a secret being set up: the otpauth:// URI for the QR code, and the
// secret itself for typing in by hand.
type TOTPSetup struct {
	Secret string
	URI    string
}

func newTOTP(issuer, email string) (TOTPSetup, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: email, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20})
	if err != nil {
		return TOTPSetup{}, err
	}
	return TOTPSetup{Secret: key.Secret(), URI: key.URL()}, nil
}

// setupOf rebuilds the setup of a stored secret, as totp.Generate writes the URI.
func setupOf(issuer, email, secret string) TOTPSetup {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("period", "30")
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + email, RawQuery: v.Encode()}
	return TOTPSetup{Secret: secret, URI: u.String()}
}

// CodeKind tells a TOTP code from a recovery code by its shape.
type CodeKind int

// Shapes of what was typed into the code field.
const (
	CodeMalformed CodeKind = iota
	CodeTOTP
	CodeRecovery
)

// normalizeCode strips what people type around codes (spaces, dashes) and says which
// kind it is: 6 digits, or 10 base32 characters.
func normalizeCode(code string) (string, CodeKind) {
	c := strings.ToLower(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code))
	if len(c) == 6 && strings.Trim(c, "0123456789") == "" {
		return c, CodeTOTP
	}
	if len(c) == 10 && strings.Trim(c, "abcdefghijklmnopqrstuvwxyz234567") == "" {
		return c, CodeRecovery
	}
	return "", CodeMalformed
}

// matchTOTP returns the time step a code belongs to (within the skew), or 0.
func matchTOTP(secret, code string, now time.Time) int64 {
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		s := step + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s
		}
	}
	return 0
}

var recoveryAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCodes returns codes to show once ("abcde-fghij") and the hashes to store.
func newRecoveryCodes() (shown, hashes []string) {
	for range RecoveryCodes {
		var b [7]byte
		rand.Read(b[:])
		c := recoveryAlphabet.EncodeToString(b[:])[:10]
		shown = append(shown, c[:5]+"-"+c[5:])
		hashes = append(hashes, hashSecret("recovery:"+c))
	}
	return shown, hashes
}
