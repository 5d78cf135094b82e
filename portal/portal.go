// Package portal is mxdesk's HTTP side: the health endpoints, and the pages behind the
// signed links in notifications (view, close, rate). Customer sign-in, the ticket list
// and the agent API build on this server. Handlers change tickets only through the
// ticket service, and every page is scoped to the one ticket its signed link names.
package portal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

//go:embed templates
var templateFS embed.FS

// Server is the portal's HTTP server.
type Server struct {
	st      *store.Store
	tickets *ticket.Service
	links   *ticket.Links
	brand   outbound.Brand
	log     *slog.Logger
	tmpl    map[string]*template.Template
	srv     *http.Server
	policy  *bluemonday.Policy
}

// New returns the portal server. Templates are parsed here, once.
func New(st *store.Store, tickets *ticket.Service, links *ticket.Links, brand outbound.Brand, log *slog.Logger) (*Server, error) {
	s := &Server{st: st, tickets: tickets, links: links, brand: brand, log: log, tmpl: map[string]*template.Template{}, policy: newPolicy()}
	for _, name := range []string{"message", "ticket", "close", "rated"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal templates: %w", err)
		}
		s.tmpl[name] = t
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /l/{token}", s.link)
	mux.HandleFunc("POST /l/{token}", s.link)
	mux.HandleFunc("GET /l/{token}/a/{id}", s.linkFile)
	mux.HandleFunc("GET /l/{token}/m/{id}/raw", s.linkFile)
	s.srv = &http.Server{
		Handler:           http.MaxBytesHandler(mux, 64<<10),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler exposes the routes for tests.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Serve serves HTTP on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown lets requests in flight finish until ctx expires.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// healthz says the process is alive; it does not touch the database.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz says whether this replica can take traffic (store.Ready): the database
// answers, no migration is pending, no spool row has been failing for long.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.st.Ready(ctx); err != nil {
		s.log.Warn("portal: readyz: not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(err.Error() + "\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	l := lang(r, "")
	s.message(w, http.StatusOK, l, s.brand.Name, map[string]string{
		"en": "To reach us, write an email to our support address. The links in our emails lead to your ticket.",
		"de": "Schreiben Sie uns eine E-Mail an unsere Support-Adresse. Die Links in unseren E-Mails führen zu Ihrem Ticket.",
	}[l])
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
