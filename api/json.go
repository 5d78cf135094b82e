package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, probInternal, "")
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// mediaType returns the request's media type, lower-cased, without parameters.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// readBody reads a body of at most limit bytes. A larger one answers 413 and returns
// false: nothing of it is acted on.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, http.StatusRequestEntityTooLarge, probTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit))
		return nil, false
	}
	if err != nil {
		badRequest(w, "reading the body: "+err.Error())
		return nil, false
	}
	return b, true
}

// decodeJSON reads body as exactly one JSON object into v; unknown fields, trailing
// data and wrong types are 400 (the client sent something this API does not speak).
func decodeJSON(w http.ResponseWriter, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			badRequest(w, fmt.Sprintf("field %q: want %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value))
		case errors.As(err, &syntaxErr):
			badRequest(w, fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, err))
		case errors.Is(err, io.EOF):
			badRequest(w, "the body is empty; want a JSON object")
		default:
			// Unknown fields come as `json: unknown field "x"`.
			badRequest(w, strings.TrimPrefix(err.Error(), "json: "))
		}
		return false
	}
	return true
}

// readJSON checks the content type, reads the body within the limit and decodes it.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt := mediaType(r); mt != "application/json" {
		writeProblem(w, http.StatusUnsupportedMediaType, probContentType, "send Content-Type: application/json")
		return false
	}
	body, ok := readBody(w, r, s.cfg.MaxJSONBytes)
	if !ok {
		return false
	}
	return decodeJSON(w, body, v)
}
