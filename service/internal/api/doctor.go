package api

import (
	"net/http"
)

// doctor checks the service's own setup for probing (see
// diagnose.Doctor): port 25, the egress identity, blocklists. It connects
// to several providers' mail servers, so it is rate-limited like every
// route that starts work.
func (s *Server) doctor(w http.ResponseWriter, r *http.Request) {
	if s.Doctor == nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "this service does not run doctor")
		return
	}
	rep, err := s.Doctor(r.Context())
	if err != nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
