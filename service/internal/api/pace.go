package api

import (
	"net/http"
	"time"
)

// pace is the answer of GET /v1/politeness: the limits the workers keep
// to each mail server, which set how long a list takes. The page
// estimates a list's time from them before it is uploaded.
type pace struct {
	// PerServerRate is the most RCPT commands a second to one mail
	// server address (Verifier.PerHostRate), PerServerSessions the most
	// sessions at once to one (PerHost), and Sessions the most sessions
	// a worker has open at once (Concurrency).
	PerServerRate     float64 `json:"per_server_rate"`
	PerServerSessions int     `json:"per_server_sessions"`
	Sessions          int     `json:"sessions"`
	// RcptsPerSession is the most recipients in one SMTP transaction
	// (MaxRcpts).
	RcptsPerSession int `json:"rcpts_per_transaction"`
	// GreylistBudget is how long greylisted addresses are retried, in
	// seconds.
	GreylistBudget float64 `json:"greylist_budget_seconds"`
}

// politeness answers GET /v1/politeness with the limits of this node's
// verifier, which the workers share (NewVerifier makes them all), with
// the verify package's defaults filled in (Verifier.Limits).
func (s *Server) politeness(w http.ResponseWriter, _ *http.Request) {
	l := s.Verifier.Limits() // the defaults where the node has none
	p := pace{PerServerRate: l.PerHostRate, PerServerSessions: l.PerHost, Sessions: l.Concurrency, RcptsPerSession: l.MaxRcpts,
		GreylistBudget: greylistBudget.Seconds()}
	if s.GreylistBudget > 0 {
		p.GreylistBudget = s.GreylistBudget.Seconds()
	}
	w.Header().Set("Cache-Control", "max-age=60")
	writeJSON(w, http.StatusOK, p)
}

// greylistBudget is a worker's default (jobs.Worker.GreylistBudget).
const greylistBudget = 30 * time.Minute
