package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// pathID reads the {id} of a route; anything but a positive integer is a 404, like an
// id that does not exist.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// resourceID reads the {id} of a route that takes no query parameters. false means the
// problem (400 for a parameter, 404 naming what for an id that cannot exist) is written.
func resourceID(w http.ResponseWriter, r *http.Request, what string) (int64, bool) {
	if _, err := query(r); err != nil {
		badRequest(w, err.Error())
		return 0, false
	}
	id, ok := pathID(r)
	if !ok {
		notFound(w, what)
	}
	return id, ok
}

// query checks a request's query parameters against the ones a route knows: a
// misspelt filter is an error, not a silently unfiltered list.
func query(r *http.Request, known ...string) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("the query string is malformed: %v", err)
	}
	for k, vals := range v {
		found := false
		for _, want := range known {
			if k == want {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown query parameter %q (known: %s)", k, strings.Join(known, ", "))
		}
		if len(vals) > 1 {
			return nil, fmt.Errorf("query parameter %q given %d times", k, len(vals))
		}
	}
	return v, nil
}

// ParseTime reads an RFC 3339 time, or a duration back from now ("30d", "12h").
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-31T09:00:00Z) nor a duration back from now (30d, 12h)", s)
}

// parseAgo reads "30d" as well as Go durations ("12h", "90m").
func parseAgo(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// cursor is where a page of a list ended. It travels as opaque base64url JSON and
// carries a digest of the filters it was made for, so it cannot be replayed on another
// list. A cursor holds only values the query binds as parameters: a forged one can
// at worst start the list elsewhere in the caller's own scope.
type cursor struct {
	Sort   string    `json:"s"`
	Asc    bool      `json:"a,omitempty"`
	At     time.Time `json:"t"`
	ID     int64     `json:"i"`
	Filter string    `json:"f"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errCursor = errors.New("cursor is not one this list made: start again without it")

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if len(s) > 512 {
		return c, errCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, errCursor
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.ID <= 0 {
		return c, errCursor
	}
	return c, nil
}

// filterDigest sums the parameters that select a list (not the page ones).
func filterDigest(v url.Values, skip ...string) string {
	var keys []string
	for k := range v {
		if !contains(skip, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, v.Get(k))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseLimit reads limit: 1 to 100, default 50.
func parseLimit(v url.Values) (int, *FieldError, error) {
	s := v.Get("limit")
	if s == "" {
		return 50, nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, nil, fmt.Errorf("limit %q is not an integer", s)
	}
	if n < 1 || n > 100 {
		return 0, &FieldError{Field: "limit", Message: "must be between 1 and 100"}, nil
	}
	return n, nil, nil
}

// agentMap loads the agents by id, to name assignees.
func (s *Server) agentMap(ctx context.Context) (map[int64]store.Agent, error) {
	agents, err := s.st.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]store.Agent, len(agents))
	for _, a := range agents {
		m[a.ID] = a
	}
	return m, nil
}
