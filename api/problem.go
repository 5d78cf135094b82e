package api

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem details document, the body of every error answer.
// Type is a URN naming the kind of problem (docs/api.md lists them); Errors lists the
// fields a validation problem (422) found wrong.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one wrong field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem types: the last word of each is what a script switches on.
const (
	probMalformed   = "malformed"          // 400: not JSON, unknown field, bad query parameter
	probUnauth      = "unauthorized"       // 401
	probNotFound    = "not-found"          // 404
	probMethod      = "method-not-allowed" // 405
	probConflict    = "conflict"           // 409: stale If-Match, Idempotency-Key reused
	probTooLarge    = "too-large"          // 413
	probContentType = "unsupported-media"  // 415
	probValidation  = "validation"         // 422
	probRateLimited = "rate-limited"       // 429
	probInternal    = "internal"           // 500
)

const problemPrefix = "urn:mxdesk:problem:"

// writeProblem answers with a problem document.
func writeProblem(w http.ResponseWriter, status int, kind, detail string, errs ...FieldError) {
	p := Problem{Type: problemPrefix + kind, Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
	b, err := json.Marshal(p)
	if err != nil {
		b = []byte(`{"type":"` + problemPrefix + probInternal + `","title":"Internal Server Error","status":500}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Del("ETag")
	w.WriteHeader(status)
	w.Write(b)
}

func notFound(w http.ResponseWriter, what string) {
	writeProblem(w, http.StatusNotFound, probNotFound, what+" not found")
}

func badRequest(w http.ResponseWriter, detail string) {
	writeProblem(w, http.StatusBadRequest, probMalformed, detail)
}

func invalid(w http.ResponseWriter, errs ...FieldError) {
	writeProblem(w, http.StatusUnprocessableEntity, probValidation, "the request is well-formed but some fields are wrong", errs...)
}
