// Package portal is mxdesk's HTTP side: for now the health endpoints a load balancer and
// an operator need; the customer pages, signed links and agent API build on this server.
// Handlers read and change tickets only through store and ticket, scoped per visitor.
package portal

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// Server is the portal's HTTP server.
type Server struct {
	st  *store.Store
	log *slog.Logger
	srv *http.Server
}

// New returns the portal server over st.
func New(st *store.Store, log *slog.Logger) *Server {
	s := &Server{st: st, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", s.home)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
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

// readyz says whether this replica can take traffic: the database answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.st.DB.PingContext(ctx); err != nil {
		s.log.Warn("portal: readyz: database unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unreachable\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("mxdesk is running. Customer pages are not built yet; write to the support address instead.\n"))
}
