// Package api is the HTTP API of package service: single verifications,
// bulk jobs on the bus of package jobs, health, metrics and the
// OpenAPI document (openapi.json, checked against the routes by a test).
package api

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/feedback"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/verify"
	"golang.org/x/time/rate"
)

//go:embed openapi.json
var openAPI []byte

// A Server answers the API. Set the fields, then call Handler.
type Server struct {
	Bus *jobs.Bus
	// Verifier answers /v1/verify; give it Transcript, which the answer
	// carries when asked for ("transcript": true).
	Verifier *verify.Verifier
	// Web, when set, is served at / and /assets/ (package web).
	Web http.Handler
	// Diagnose, when set, answers GET /v1/diagnose/{domain}.
	Diagnose func(ctx context.Context, domain string) (*diagnose.Report, error)
	// Doctor, when set, answers GET /v1/doctor (see doctor.go).
	Doctor func(ctx context.Context, recent diagnose.RecentEvents) (*diagnose.DoctorReport, error)
	// History, when set, takes POST /v1/feedback (package feedback); give
	// the verifiers the same one.
	History feedback.History
	// Tokens, when set, are required as "Authorization: Bearer TOKEN";
	// nil serves without auth (for loopback only: the command refuses to
	// listen elsewhere without tokens).
	Tokens *Tokens
	// Rate and Burst limit the requests that start work (POST, diagnose)
	// per token; zero Rate means 20/s, a negative one no limit; zero
	// Burst means twice Rate.
	Rate  rate.Limit
	Burst int
	// MaxBody bounds a job's upload; zero means 64 MiB.
	MaxBody int64
	// MaxVerifyBudget bounds timeout_ms of /v1/verify; zero means 60s.
	MaxVerifyBudget time.Duration
	// AllowPrivate lets webhooks go to private addresses (tests).
	AllowPrivate bool
	// Hosts are the names the service answers to in the Host header,
	// besides IP addresses and localhost; "*" takes any (behind a proxy
	// that checks it).
	Hosts []string
	// WebhookSecretGiven says the operator gave the webhook secret:
	// GET /v1/webhook-secret then has none to show.
	WebhookSecretGiven bool
	Metrics            *Metrics
	Logger             *slog.Logger
	// EgressStore, when set, is the cluster's egress health (GET /v1/egress).
	EgressStore egress.Store
	// GreylistBudget is the workers' (GET /v1/politeness); zero means
	// their default, 30 minutes.
	GreylistBudget time.Duration

	limits *limiters
	cache  *resultCache
	ready  func(context.Context) error
	// perRowGets makes downloads fetch each result on its own, as they
	// once did: BenchmarkDownload's baseline.
	perRowGets bool
}

// A route is one operation of the API; the OpenAPI test walks them.
type route struct {
	method, path string // path in OpenAPI form: /v1/jobs/{id}
	auth         bool   // needs a token (when tokens are set)
	costly       bool   // starts work: rate-limited per token
	handle       http.HandlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{"POST", "/v1/verify", true, true, s.verify},
		{"POST", "/v1/jobs", true, true, s.createJob},
		{"GET", "/v1/jobs", true, false, s.listJobs},
		{"GET", "/v1/jobs/{id}", true, false, s.getJob},
		{"POST", "/v1/lists", true, true, s.createList},
		{"GET", "/v1/jobs/{id}/file", true, false, s.download},
		{"DELETE", "/v1/jobs/{id}/data", true, false, s.deleteJob},
		{"DELETE", "/v1/jobs/{id}", true, false, s.cancelJob},
		{"POST", "/v1/jobs/{id}/cancel", true, false, s.stopJob},
		{"GET", "/v1/jobs/{id}/results", true, false, s.results},
		{"GET", "/v1/jobs/{id}/export", true, false, s.export},
		{"POST", "/v1/feedback", true, true, s.postFeedback},
		{"GET", "/v1/webhook-secret", true, false, s.webhookSecret},
		{"GET", "/v1/diagnose/{domain}", true, true, s.diagnose},
		{"GET", "/v1/doctor", true, true, s.doctor},
		{"GET", "/v1/egress", true, false, s.egressStatus},
		{"GET", "/v1/politeness", true, false, s.politeness},
		{"GET", "/healthz", false, false, s.healthz},
		{"GET", "/readyz", false, false, s.readyz},
		{"GET", "/metrics", false, false, s.metrics},
		{"GET", "/openapi.json", false, false, s.openapi},
	}
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
		if s.Bus != nil {
			s.Metrics.WatchQueue(s.Bus)
		}
	}
	every := s.Rate
	if every == 0 {
		every = 20
	}
	burst := s.Burst
	if burst <= 0 {
		burst = max(1, int(2*every))
	}
	s.limits = &limiters{every: every, burst: burst, m: map[string]*rate.Limiter{}}
	s.cache = newResultCache(10000, 10*time.Minute)
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	if s.Web != nil {
		mux.Handle("GET /{$}", s.Web)
		mux.Handle("GET /assets/", s.Web)
	}
	mux.HandleFunc("/", notFound(mux))
	return s.guard(mux)
}

// wrap adds what every route has: auth, the rate limit, metrics, and a
// problem response instead of a crash.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logOrDiscard(s.Logger).Error("api: handler panic", "route", rt.path, "panic", p)
				if !sw.wrote {
					writeProblem(sw, http.StatusInternalServerError, "internal", "the server failed; nothing was stored")
				}
			}
			s.Metrics.request(rt.method+" "+rt.path, sw.status, time.Since(start))
		}()
		if p := unknownParam(rt, r); p != "" {
			writeProblem(sw, http.StatusBadRequest, "bad-request", "unknown query parameter "+p)
			return
		}
		if needsToken(rt, r) {
			owner, ok := s.Tokens.owner(r)
			if !ok {
				sw.Header().Set("WWW-Authenticate", `Bearer realm="mailverify"`)
				writeProblem(sw, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
				return
			}
			if rt.costly {
				if ok, wait := s.limits.allow(owner); !ok {
					tooMany(sw, wait)
					return
				}
			}
			r = r.WithContext(context.WithValue(r.Context(), ownerKey{}, owner))
		}
		rt.handle(sw, r)
	})
}

type ownerKey struct{}

func owner(r *http.Request) string {
	o, _ := r.Context().Value(ownerKey{}).(string)
	return o
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SetReady sets the readiness check of /readyz.
func (s *Server) SetReady(f func(context.Context) error) { s.ready = f }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			writeProblem(w, http.StatusServiceUnavailable, "not-ready", err.Error())
			return
		}
	}
	if s.Bus != nil {
		if err := s.Bus.Ready(); err != nil {
			w.Header().Set("Retry-After", "10")
			writeProblem(w, http.StatusServiceUnavailable, "not-ready", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

func logOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
