package api

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/mailverify/mailverify/service/internal/jobs"
)

// queryParams are the query parameters each route takes; any other is
// refused (400), so that a misspelt one does not pass unnoticed. A route
// not listed is not checked.
var queryParams = map[string][]string{
	"POST /v1/verify":           {},
	"POST /v1/jobs":             {"webhook_url", "column", "dedupe"},
	"GET /v1/jobs":              {"limit", "after"},
	"GET /v1/jobs/{id}":         {},
	"DELETE /v1/jobs/{id}":      {},
	"GET /v1/jobs/{id}/results": {"after", "limit"},
	"GET /v1/jobs/{id}/export":  {"format"},
	"POST /v1/feedback":         {},
	"GET /v1/diagnose/{domain}": {},
	"GET /v1/webhook-secret":    {},
	"GET /v1/doctor":            {},
	"GET /v1/politeness":        {},
	"GET /healthz":              {},
	"GET /readyz":               {},
	"GET /metrics":              {},
	"GET /openapi.json":         {},
}

// unknownParam returns a query parameter the route does not take, if any.
func unknownParam(rt route, r *http.Request) string {
	allowed, ok := queryParams[rt.method+" "+rt.path]
	if !ok || r.URL.RawQuery == "" {
		return ""
	}
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			return k
		}
	}
	return ""
}

// needsToken tells whether a request to rt must carry a token: the
// routes that say so, and /metrics from off this machine.
func needsToken(rt route, r *http.Request) bool {
	return rt.auth || rt.path == "/metrics" && !fromLoopback(r)
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// unavailable answers a failure of the job store: 507 when its disk is
// full, else 503 with Retry-After. The error goes to the log, not to the
// client: it names the internals.
func (s *Server) unavailable(w http.ResponseWriter, what string, err error) {
	logOrDiscard(s.Logger).Warn("api: "+what, "err", err)
	if errors.Is(err, jobs.ErrStorageFull) {
		w.Header().Set("Retry-After", "60")
		writeProblem(w, http.StatusInsufficientStorage, "storage-full", what+": storage full; nothing was stored")
		return
	}
	w.Header().Set("Retry-After", "5")
	writeProblem(w, http.StatusServiceUnavailable, "unavailable", what+": the job store is unavailable; try again")
}
