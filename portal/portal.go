// Package portal is mxdesk's HTTP side for customers: the health endpoints, the pages
// behind the signed links in notifications (view, close, rate), and customer accounts
// (sign-up, sign-in, emailed links, reset, two-factor, sessions) whose rules live in
// package account. Handlers change tickets only through the ticket service; a signed
// link's pages are scoped to the one ticket it names. Every response carries the
// security headers and every state change is a POST checked for cross-origin requests
// (security.go).
package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

//go:embed templates static
var templateFS embed.FS

// Server is the portal's HTTP server.
type Server struct {
	st      *store.Store
	tickets *ticket.Service
	links   *ticket.Links
	// brand is swapped whole by SetBrand (a reload); every page reads it when rendered.
	brand  atomic.Pointer[brandState]
	log    *slog.Logger
	tmpl   map[string]*template.Template
	srv    *http.Server
	policy *bluemonday.Policy
	cssSrc []byte // the stylesheet before the brand colour goes in
	csp    string // Content-Security-Policy of every page (security.go)
	kbCSP  string // csp with the knowledge base's script
	logo   string // the brand logo's URL, shown in the header; empty: none (set at start)

	accounts *account.Service // nil: no customer accounts, only signed links
	secure   bool             // base URL is https: Secure cookies with __Host- names
	proxies  []netip.Prefix   // peers whose X-Forwarded-For is believed
	tk       *TicketOptions   // nil: no ticket pages for signed-in customers
	kb       kbSettings       // the knowledge base's pages (kb.go)
}

// Option configures the portal beyond its signed-link pages.
type Option func(*Server)

// WithAccounts turns on customer accounts: sign-up, sign-in, the account pages.
// baseURL decides whether cookies are Secure (https).
func WithAccounts(a *account.Service, baseURL string) Option {
	return func(s *Server) {
		s.accounts = a
		s.secure = strings.HasPrefix(baseURL, "https://")
	}
}

// WithTrustedProxies names the peers (the HTTPS proxy in front) whose X-Forwarded-For
// gives the client's address; from anyone else the header is ignored. Default: loopback.
func WithTrustedProxies(p []netip.Prefix) Option {
	return func(s *Server) { s.proxies = p }
}

// views are the page templates, each parsed with the layout and the shared partials.
var views = []string{"message", "ticket", "close", "rated",
	"signup", "login", "code", "request", "confirm", "newpassword", "account", "twofa",
	"home", "mytickets", "myticket", "newticket"}

// partials are parsed into every view.
var partials = []string{"templates/layout.html", "templates/errors.html"}

// route is one pattern of the portal's mux.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// routes lists every route in one place. Every state change is a POST (checked for
// cross-origin by the middleware); /api belongs to the agent API, mounted beside.
func (s *Server) routes() []route {
	rs := []route{
		{"GET /healthz", s.healthz},
		{"GET /readyz", s.readyz},
		{"GET /portal.css", s.stylesheet},
		{"GET /static/forms.js", s.kbStatic("forms.js", "text/javascript; charset=utf-8")},
		{"GET /{$}", s.home},
		{"GET /l/{token}", s.link},
		{"POST /l/{token}", s.link},
		{"GET /l/{token}/a/{id}", s.linkFile},
		{"GET /l/{token}/m/{id}/raw", s.linkFile},
	}
	if s.accounts != nil {
		rs = append(rs,
			route{"GET /signup", s.signupForm},
			route{"POST /signup", s.signup},
			route{"GET /signup/verify/{token}", s.linkPage},
			route{"POST /signup/verify/{token}", s.useLink},
			route{"GET /login", s.loginForm},
			route{"POST /login", s.login},
			route{"GET /login/link", s.requestForm},
			route{"POST /login/link", s.request},
			route{"GET /login/link/{token}", s.linkPage},
			route{"POST /login/link/{token}", s.useLink},
			route{"GET /reset", s.requestForm},
			route{"POST /reset", s.request},
			route{"GET /reset/{token}", s.resetForm},
			route{"POST /reset/{token}", s.reset},
			route{"POST /logout", s.logout},
			route{"GET /account", s.signedIn(s.accountPage)},
			route{"POST /account/password", s.signedIn(s.changePassword)},
			route{"POST /account/language", s.signedIn(s.changeLanguage)},
			route{"POST /account/sessions", s.signedIn(s.signOutOthers)},
			route{"GET /account/2fa", s.signedIn(s.twofaPage)},
			route{"POST /account/2fa", s.signedIn(s.twofa)},
		)
	}
	if s.accounts != nil && s.tk != nil {
		rs = append(rs,
			route{"GET /my-tickets", s.signedIn(s.myTickets)},
			route{"GET /my-tickets/new", s.signedIn(s.newTicketForm)},
			route{"POST /my-tickets/new", s.signedIn(s.newTicket)},
			route{"GET /my-tickets/{id}", s.signedIn(s.ticketPage)},
			route{"POST /my-tickets/{id}/reply", s.signedIn(s.reply)},
			route{"POST /my-tickets/{id}/close", s.signedIn(s.closeTicket)},
			route{"POST /my-tickets/{id}/rate", s.signedIn(s.rate)},
			route{"GET /my-tickets/{id}/attachments/{attachment}", s.signedIn(s.attachment)},
			route{"GET /my-tickets/{id}/messages/{message}/raw", s.signedIn(s.rawMessage)},
		)
	}
	rs = append(rs, s.kbRoutes()...)
	return rs
}

// maxForm bounds a request body: forms here are small (a 1 MB "password" gets a page
// saying so, not a hash of a megabyte). Forms with attachments get the upload limit.
const maxForm = 64 << 10

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxForm)
		if s.tk != nil && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/my-tickets/") {
			limit = s.tk.MaxUpload + 1<<20 // the fields and the multipart framing besides the files
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// New returns the portal server. Templates are parsed here, once.
func New(st *store.Store, tickets *ticket.Service, links *ticket.Links, brand outbound.Brand, log *slog.Logger, opts ...Option) (*Server, error) {
	s := &Server{st: st, tickets: tickets, links: links, log: log, tmpl: map[string]*template.Template{}, policy: newPolicy(),
		proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, o := range opts {
		o(s)
	}
	s.policies(brand.LogoURL)
	for _, name := range views {
		t, err := template.ParseFS(templateFS, append([]string{"templates/" + name + ".html"}, partials...)...)
		if err != nil {
			return nil, fmt.Errorf("portal templates: %w", err)
		}
		s.tmpl[name] = t
	}
	if err := s.kbTemplates(); err != nil {
		return nil, err
	}
	css, err := templateFS.ReadFile("static/portal.css")
	if err != nil {
		return nil, fmt.Errorf("portal stylesheet: %w", err)
	}
	s.cssSrc = css
	s.SetBrand(brand)
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		mux.HandleFunc(r.pattern, r.handler)
	}
	s.srv = &http.Server{
		Handler:           s.protect(s.limitBody(mux)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// brandState is the brand with the stylesheet made from it.
type brandState struct {
	outbound.Brand
	css []byte
	// cssURL names the stylesheet by its colour, so a browser holding the old one in its
	// cache fetches the new one after the colour changes.
	cssURL string
}

// SetBrand changes the name and colour every page shows from the next request on.
func (s *Server) SetBrand(b outbound.Brand) {
	if b.Color == "" {
		b.Color = "#1f6feb"
	}
	color := cssColor(b.Color)
	sum := sha256.Sum256([]byte(color))
	s.brand.Store(&brandState{Brand: b,
		css:    bytes.ReplaceAll(s.cssSrc, []byte("BRAND_COLOR"), []byte(color)),
		cssURL: "/portal.css?v=" + hex.EncodeToString(sum[:4])})
}

// currentBrand is the brand in force.
func (s *Server) currentBrand() *brandState { return s.brand.Load() }

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

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
