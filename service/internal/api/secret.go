package api

import "net/http"

// webhookSecret shows the secret that signs the webhooks of the caller's
// jobs, when the service made it up (each token has its own).
func (s *Server) webhookSecret(w http.ResponseWriter, r *http.Request) {
	if s.WebhookSecretGiven {
		writeProblem(w, http.StatusNotFound, "not-found", "webhooks are signed with the secret the operator gave (--webhook-secret-file); ask them for it")
		return
	}
	secret, err := s.Bus.WebhookSecret(r.Context(), owner(r))
	if err != nil {
		s.jobError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"secret": secret})
}
