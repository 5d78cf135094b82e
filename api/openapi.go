package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
)

// openapiYAML is the API's description: written by hand, checked against the routes
// and every test request and response by openapi_test.go.
//
//go:embed openapi.yaml
var openapiYAML []byte

// Spec returns the parsed, validated description.
func Spec() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	return doc, nil
}

// specJSON is the description as served at /api/v1/openapi.json.
func specJSON() ([]byte, error) {
	doc, err := Spec()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("api: openapi.json: %w", err)
	}
	return b, nil
}

// openapi: GET /openapi.json, no token needed (it describes, it shows no data).
func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *principal) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.spec)))
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(s.spec)
}
