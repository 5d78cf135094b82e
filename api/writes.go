package api

import "net/http"

// Placeholders until the writes land on the ticket service's new API.

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, p *principal) {
	writeProblem(w, http.StatusNotImplemented, probInternal, "not yet")
}

func (s *Server) patchTicket(w http.ResponseWriter, r *http.Request, p *principal) {
	writeProblem(w, http.StatusNotImplemented, probInternal, "not yet")
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, p *principal) {
	writeProblem(w, http.StatusNotImplemented, probInternal, "not yet")
}
