package portal

import "net/http"

// Mount serves h for every path under prefix (e.g. "/api/v1/") on the portal's
// listener, ahead of the portal's own handler and its middleware: the agent API
// authenticates with bearer tokens, sets no cookies and has its own body limits, so
// the portal's cookie-based CSRF protection and 64 KiB body cap are not for it. Call
// it before Serve.
func (s *Server) Mount(prefix string, h http.Handler) {
	portal := s.srv.Handler
	mux := http.NewServeMux()
	mux.Handle(prefix, h)
	mux.Handle("/", portal)
	s.srv.Handler = mux
}
