package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/feedback"
)

// maxClockSkew is how far in the future a feedback event may be dated
// (the clocks of mail servers differ).
const maxClockSkew = 15 * time.Minute

// postFeedback records bounces and deliveries: an mbox or a single message
// of delivery status notifications, or ESP records as NDJSON. The whole
// upload is read before anything is recorded, so a malformed one stores
// nothing.
func (s *Server) postFeedback(w http.ResponseWriter, r *http.Request) {
	if s.History == nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "this service keeps no feedback history")
		return
	}
	var evs []feedback.Event
	st, err := feedback.Read(http.MaxBytesReader(w, r.Body, s.maxBody()), func(e feedback.Event) error {
		evs = append(evs, e)
		return nil
	})
	switch {
	case tooLarge(err):
		writeProblem(w, http.StatusRequestEntityTooLarge, "too-large", "the body is over the limit; nothing was recorded")
		return
	case err != nil:
		writeProblem(w, http.StatusBadRequest, "bad-input", err.Error()+"; nothing was recorded")
		return
	}
	if st.Events == 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "bad-input", "no bounce, delivery report or ESP record in the body; nothing was recorded")
		return
	}
	for _, e := range evs {
		if e.At.After(time.Now().Add(maxClockSkew)) {
			writeProblem(w, http.StatusUnprocessableEntity, "bad-input", "an event for "+e.Address+" is dated "+e.At.UTC().Format(time.RFC3339)+", in the future; nothing was recorded")
			return
		}
	}
	for _, e := range evs {
		if err := s.History.Record(e); err != nil {
			s.unavailable(w, "could not record", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"events": st.Events, "messages": st.Messages, "skipped": st.Skipped})
}

// diagnose runs the mail-setup test of a domain (see package diagnose).
func (s *Server) diagnose(w http.ResponseWriter, r *http.Request) {
	if s.Diagnose == nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "this service does not run diagnose")
		return
	}
	rep, err := s.Diagnose(r.Context(), r.PathValue("domain"))
	switch {
	case errors.Is(err, diagnose.ErrDomain):
		writeProblem(w, http.StatusBadRequest, "bad-request", err.Error())
	case err != nil:
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	default:
		writeJSON(w, http.StatusOK, rep)
	}
}
