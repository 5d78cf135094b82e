package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
)

// answer is what a write answers on success.
type answer struct {
	status int
	body   any
	header map[string]string
}

// apiError is a problem found inside a write's transaction: returning it rolls the
// transaction back, and the client gets the problem.
type apiError struct {
	status int
	kind   string
	detail string
	errs   []FieldError
}

func (e *apiError) Error() string { return e.detail }

func errNotFound(what string) error {
	return &apiError{status: http.StatusNotFound, kind: probNotFound, detail: what + " not found"}
}

// idempotencyTTL is how long an Idempotency-Key's answer is replayed.
const idempotencyTTL = 24 * time.Hour

// validKey reports whether an Idempotency-Key is 1 to 200 printable ASCII characters.
func validKey(k string) bool {
	if len(k) == 0 || len(k) > 200 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// write runs a change in one transaction and answers. With an Idempotency-Key the
// answer is recorded in the same transaction, and a request repeating the key gets it
// again without the change being made twice: the record and the change commit
// together, and of two requests with one key running at once, the second fails on the
// record's primary key, rolls back everything it did (its mail included) and replays
// the first's answer. input is the parsed request: its digest tells a retry from
// another request reusing the key.
func (s *Server) write(w http.ResponseWriter, r *http.Request, p *principal, input any, fn func(ctx context.Context, tx *sqlx.Tx) (answer, error)) {
	ctx := r.Context()
	key := r.Header.Get("Idempotency-Key")
	var fp string
	if key != "" {
		if !validKey(key) {
			badRequest(w, "Idempotency-Key must be 1 to 200 printable ASCII characters")
			return
		}
		b, err := json.Marshal(input)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), b...))
		fp = hex.EncodeToString(sum[:])
		if a, err := store.IdempotentAnswerFor(ctx, s.st.DB, p.token.ID, key, s.now().Add(-idempotencyTTL)); err == nil {
			replay(w, a, fp)
			return
		} else if !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	var ans answer
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if ans, err = fn(ctx, tx); err != nil {
			return err
		}
		if key == "" {
			return nil
		}
		b, err := json.Marshal(ans.body)
		if err != nil {
			return err
		}
		// Answers are kept for a day: retries come within minutes, and the table stays
		// small without a job of its own.
		if _, err := store.DeleteIdempotentAnswers(ctx, tx, p.token.ID, s.now().Add(-idempotencyTTL)); err != nil {
			return err
		}
		return store.InsertIdempotentAnswer(ctx, tx, p.token.ID, key, store.IdempotentAnswer{Fingerprint: fp, Status: ans.status, Body: string(b)})
	})
	var ae *apiError
	switch {
	case errors.Is(err, store.ErrDuplicate):
		a, err := store.IdempotentAnswerFor(ctx, s.st.DB, p.token.ID, key, s.now().Add(-idempotencyTTL))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		replay(w, a, fp)
		return
	case errors.As(err, &ae):
		writeProblem(w, ae.status, ae.kind, ae.detail, ae.errs...)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	for k, v := range ans.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, ans.status, ans.body)
}

// replay answers a repeated request with the recorded answer, or 409 when the key was
// used for another request.
func replay(w http.ResponseWriter, a *store.IdempotentAnswer, fp string) {
	if a.Fingerprint != fp {
		writeProblem(w, http.StatusConflict, probConflict, "this Idempotency-Key was used for another request: use a new key for a new change")
		return
	}
	b := []byte(a.Body + "\n")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(a.Status)
	w.Write(b)
}

// agentOf loads the agent a token belongs to.
func (s *Server) agentOf(ctx context.Context, p *principal) (*store.Agent, error) {
	a, err := store.AgentByID(ctx, s.st.DB, p.token.UserID)
	if err != nil {
		return nil, fmt.Errorf("agent of token %d: %w", p.token.ID, err)
	}
	return a, nil
}
