package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// tokenPrefix starts every token, so a leaked one is recognisable (secret scanners,
// logs) and a password pasted by mistake is refused without a lookup.
const tokenPrefix = "mxd_"

// NewToken returns a fresh bearer token and the hash to store for it. The token has
// 256 random bits: a plain SHA-256 is enough to keep it (nobody can guess one to
// compare against), and a lookup by hash needs no per-token salt.
func NewToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken is what the database keeps of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// principal is who a request speaks for: the token, its agent, and the teams it sees.
type principal struct {
	token *store.APIToken
	scope store.Scope
}

// errNoToken is a missing, malformed, unknown or revoked token: all get one answer.
var errNoToken = errors.New("no valid bearer token")

// authenticate reads the bearer token and finds it; it never says which part was wrong.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	// RFC 6750 2.1: the scheme is case-insensitive; the token is base64url here.
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(tok, tokenPrefix) || len(tok) != len(tokenPrefix)+43 {
		return nil, errNoToken
	}
	t, err := store.APITokenByHash(ctx, s.st.DB, HashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoToken
	}
	if err != nil {
		return nil, err
	}
	p := &principal{token: t, scope: store.Scope{All: t.Admin}}
	if !t.Admin && t.TeamID != nil {
		p.scope.Teams = []int64{*t.TeamID}
	}
	// last_used_at is kept to the minute: a read does not become a write each time.
	if now := s.now(); t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if err := store.TouchAPIToken(ctx, s.st.DB, t.ID, now); err != nil {
			s.log.Warn("api: recording token use", "token", t.ID, "err", err)
		}
	}
	return p, nil
}

// unauthorized answers 401 with the challenge RFC 6750 3 asks for.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="mxdesk", error="invalid_token"`)
	writeProblem(w, http.StatusUnauthorized, probUnauth, "send a valid token: Authorization: Bearer mxd_… (mxdesk agent token EMAIL makes one)")
}
