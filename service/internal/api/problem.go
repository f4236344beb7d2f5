package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// A problem is an RFC 9457 problem detail.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// problemBase is where the problem types are described: the README's API
// section.
const problemBase = "https://github.com/mailverify/mailverify#problem-"

// writeProblem answers with a problem+json body. kind is the problem
// type's slug (bad-request, unauthorized, ...).
func writeProblem(w http.ResponseWriter, status int, kind, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: problemBase + kind, Title: http.StatusText(status), Status: status, Detail: detail})
}

func tooMany(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
	writeProblem(w, http.StatusTooManyRequests, "rate-limited", "too many requests for this token; see Retry-After")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
