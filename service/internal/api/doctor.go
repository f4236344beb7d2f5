package api

import (
	"net/http"

	"github.com/mailverify/mailverify/diagnose"
)

// doctor checks the service's own setup for probing (see
// diagnose.Doctor): port 25, the egress identity, blocklists. It connects
// to several providers' mail servers, so it is rate-limited like every
// route that starts work. Its recent evidence is what the egress store
// (the cluster's bucket) keeps about each egress.
func (s *Server) doctor(w http.ResponseWriter, r *http.Request) {
	if s.Doctor == nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "this service does not run doctor")
		return
	}
	var recent diagnose.RecentEvents
	if s.EgressStore != nil {
		recent = diagnose.RecentFromStore(s.EgressStore, 0)
	}
	rep, err := s.Doctor(r.Context(), recent)
	if err != nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
