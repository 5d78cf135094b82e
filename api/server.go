package api

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// Prefix is where the API lives on the portal's listener.
const Prefix = "/api/v1"

// Config is what the API needs.
type Config struct {
	Store   *store.Store
	Tickets *ticket.Service
	Log     *slog.Logger
	// RatePerSecond and Burst are each token's budget: Burst requests at once, then
	// RatePerSecond (defaults 10 and 50). Past it: 429 with Retry-After.
	RatePerSecond float64
	Burst         int
	// MaxJSONBytes bounds a JSON body (default 1 MiB); MaxUploadBytes a multipart one
	// with attachments (default 25 MiB). Past them: 413.
	MaxJSONBytes   int64
	MaxUploadBytes int64
	// Now is the clock (tests move it); nil is the store's.
	Now func() time.Time
	// Mailboxes are the support addresses POST /tickets files tickets under.
	Mailboxes []Mailbox
}

// Mailbox is a support address, its team and its tickets' priority.
type Mailbox struct {
	Address, Team, Priority string
}

// Server serves the API. It is an http.Handler for everything under Prefix.
type Server struct {
	cfg     Config
	st      *store.Store
	tickets *ticket.Service
	log     *slog.Logger
	limit   *limiter
	mux     *http.ServeMux
	spec    []byte
}

// route is one operation: the method and path of the OpenAPI description, and whether
// it needs a token.
type route struct {
	method, path string
	public       bool
	h            func(w http.ResponseWriter, r *http.Request, p *principal)
}

// routes lists every operation in one place; the OpenAPI test walks it.
func (s *Server) routes() []route {
	return []route{
		{method: "GET", path: "/openapi.json", public: true, h: s.openapi},
		{method: "GET", path: "/tickets", h: s.listTickets},
		{method: "POST", path: "/tickets", h: s.createTicket},
		{method: "GET", path: "/tickets/{id}", h: s.getTicket},
		{method: "PATCH", path: "/tickets/{id}", h: s.patchTicket},
		{method: "GET", path: "/tickets/{id}/messages", h: s.listMessages},
		{method: "POST", path: "/tickets/{id}/messages", h: s.postMessage},
		{method: "GET", path: "/attachments/{id}", h: s.getAttachment},
		{method: "GET", path: "/contacts", h: s.listContacts},
		{method: "GET", path: "/contacts/{id}", h: s.getContact},
		{method: "GET", path: "/feedback", h: s.feedback},
	}
}

// New builds the API server and parses its OpenAPI description once.
func New(cfg Config) (*Server, error) {
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 10
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 50
	}
	if cfg.MaxJSONBytes <= 0 {
		cfg.MaxJSONBytes = 1 << 20
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 25 << 20
	}
	if cfg.Now == nil {
		cfg.Now = store.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, st: cfg.Store, tickets: cfg.Tickets, log: cfg.Log,
		limit: newLimiter(cfg.RatePerSecond, cfg.Burst), mux: http.NewServeMux()}
	spec, err := specJSON()
	if err != nil {
		return nil, err
	}
	s.spec = spec
	allow := map[string][]string{}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+Prefix+rt.path, s.wrap(rt))
		allow[rt.path] = append(allow[rt.path], rt.method)
	}
	// Other methods on a known path: 405 with Allow, as problem+json (a pattern without
	// a method is less specific, so it gets only what the others did not).
	for path, methods := range allow {
		allowed := strings.Join(methods, ", ")
		s.mux.HandleFunc(Prefix+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowed)
			writeProblem(w, http.StatusMethodNotAllowed, probMethod, r.Method+" is not allowed here; allowed: "+allowed)
		})
	}
	s.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, probNotFound, "no such resource: "+r.URL.Path)
	})
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// ServeHTTP serves every path under Prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("api: panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeProblem(w, http.StatusInternalServerError, probInternal, "")
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// wrap authenticates and rate-limits a route's requests.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.public {
			rt.h(w, r, nil)
			return
		}
		p, err := s.authenticate(r.Context(), r)
		if err == errNoToken {
			unauthorized(w)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if ok, wait := s.limit.allow(p.token.ID, s.now()); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			writeProblem(w, http.StatusTooManyRequests, probRateLimited,
				fmt.Sprintf("this token may send %g requests a second (bursts of %d); retry after %d s", s.cfg.RatePerSecond, s.cfg.Burst, max(secs, 1)))
			return
		}
		rt.h(w, r, p)
	})
}

// fail answers 500 for an error the client cannot fix, logged here with what it was;
// the client learns nothing of the inside.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() == context.Canceled {
		return // the client went away
	}
	s.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, http.StatusInternalServerError, probInternal, "the server could not answer; it is logged")
}

// Routes lists the operations the server answers, as "METHOD /path" relative to
// Prefix (the OpenAPI test compares them with the description).
func (s *Server) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}
