// Package service is mailverify's verification service as a library: an
// HTTP API for single checks and bulk jobs (with the page, metrics and the
// OpenAPI document), and the workers that probe mail servers. Jobs run on
// NATS JetStream, embedded in the process or a cluster of your own. The
// commands "mailverify serve" and "mailverify worker" are thin wrappers of
// it; the README's "The service" describes the API and how jobs run.
//
// The shortest use, one process with an embedded NATS server and a
// worker, the API mounted on a mux of your own:
//
//	s, err := service.New(ctx, service.Config{DataDir: dir})
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	go s.Run(ctx) // the scheduler, the aggregator, webhooks and the worker
//	http.ListenAndServe("127.0.0.1:8025", s.Handler()) // the API and the page
//
// To scale out, give every process the same Config.NATS; run Service in
// one or more processes for the API and Worker (see NewWorker) on each
// machine that probes, one per egress address.
package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/service/internal/api"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/service/internal/web"
	"github.com/mailverify/mailverify/verify"
	"golang.org/x/time/rate"
)

// Config configures a Service or a Worker. The zero value runs with an
// embedded NATS server, which needs DataDir.
type Config struct {
	// NATS is the URL of a NATS cluster with JetStream (several
	// comma-separated); empty starts an embedded nats-server storing
	// under DataDir, reachable only from this process.
	NATS string
	// DataDir is the embedded server's store.
	DataDir string
	// Replicas of every stream (3 in a 3-node cluster); zero means 1.
	Replicas int
	// Partitions of the work, each owned by one worker at a time; zero
	// means 32.
	Partitions int
	// Retention is how long jobs and results are kept (addresses are
	// personal data); zero means 72 hours.
	Retention time.Duration
	// AckWait is how long a task may go unacknowledged (its worker died)
	// before it is delivered again; zero means 30 seconds.
	AckWait time.Duration
	// PinnedTTL is how soon a partition moves to another worker when its
	// owner stops asking for work; zero means 10 seconds.
	PinnedTTL time.Duration
	// GreylistBudget is how long after an address was queued greylisting
	// is still waited out, and so is the want of an egress: an address of
	// a provider no running worker has a healthy egress for waits for the
	// first to come back, then ends unknown/blocked with retry_after.
	// Zero means 30 minutes.
	GreylistBudget time.Duration

	// NewVerifier returns a new Verifier each time it is called (the
	// service needs several: the API's, the scheduler's, the worker's);
	// nil means &verify.Verifier{}. The service counts their SMTP work
	// in its metrics (it wraps Dialer and sets TranscriptWriter), lets
	// the bus wait out greylisting for the worker's, and shares
	// catch-all answers and feedback history between them through the
	// bus (CatchAllStore, History). A worker's Verifier with Egresses and
	// no Timeout gets a Timeout of a minute.
	NewVerifier func() (*verify.Verifier, error)
	// Worker runs a worker in this process too when NATS is set; with an
	// embedded server a worker always runs.
	Worker bool

	// Tokens, when set, are required as "Authorization: Bearer TOKEN"
	// (each at least 16 characters; see ReadTokens); nil serves without
	// auth, which is for loopback only.
	Tokens []string
	// RequestRate limits the requests that start work, per token; zero
	// means 20 a second, a negative rate no limit.
	RequestRate float64
	// MaxBody bounds a job's upload in bytes; zero means 64 MiB.
	MaxBody int64
	// WebhookSecret signs webhook deliveries ("whsec_..." as Standard
	// Webhooks writes it, or raw bytes); nil signs each token's with a
	// secret of its own, derived from one the service makes up and keeps
	// on the bus (under DataDir when embedded), which the token reads at
	// GET /v1/webhook-secret.
	WebhookSecret []byte
	// AllowPrivate lets webhooks reach loopback and private addresses.
	AllowPrivate bool
	// WebhookDNS, when set (host:port), resolves webhook hosts instead of
	// the system's resolver (the command's --dns).
	WebhookDNS string
	// Hosts are the names the API answers to (the Host header), besides
	// IP addresses and localhost: a request naming another host is
	// refused (421), so that a page on another site cannot reach the API
	// through a name rebound to this address. "*" takes any.
	Hosts []string
	// Diagnose, when set, answers GET /v1/diagnose/{domain}; a
	// diagnose.Checker's Check fits.
	Diagnose func(ctx context.Context, domain string) (*diagnose.Report, error)
	// Doctor, when set, answers GET /v1/doctor: the service's own setup
	// for probing (diagnose.Doctor with its egresses). recent reads the
	// block, throttle and soft-limit replies the cluster's egress store
	// keeps (nil when the service has none): give it to
	// DoctorConfig.Recent.
	Doctor func(ctx context.Context, recent diagnose.RecentEvents) (*diagnose.DoctorReport, error)
	// Logger receives the service's log; nil means none.
	Logger *slog.Logger
}

// ErrConfig is wrapped by the errors of New and NewWorker that come from
// the Config (a verifier that fails Validate, short tokens), as opposed to
// failures to reach NATS.
var ErrConfig = errors.New("service: bad configuration")

type configError struct{ err error }

func (e configError) Error() string    { return e.err.Error() }
func (e configError) Unwrap() []error  { return []error{ErrConfig, e.err} }
func badConfig(err error) error        { return configError{err} }
func (c *Config) logger() *slog.Logger { return orDiscard(c.Logger) }
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func (c *Config) bus() jobs.Config {
	return jobs.Config{URL: c.NATS, DataDir: c.DataDir, Replicas: c.Replicas, Partitions: c.Partitions,
		Retention: c.Retention, AckWait: c.AckWait, PinnedTTL: c.PinnedTTL}
}

// verifier returns a new Verifier from NewVerifier whose SMTP work m
// counts.
func (c *Config) verifier(m *api.Metrics) (*verify.Verifier, error) {
	v := &verify.Verifier{}
	if c.NewVerifier != nil {
		var err error
		if v, err = c.NewVerifier(); err != nil {
			return nil, badConfig(err)
		}
	}
	v.Dialer, v.TranscriptWriter = m.Dialer(v.Dialer), m.SMTPTap()
	if v.Resolver == nil {
		v.Resolver = &mx.DNS{} // the default, made here so that its counts are watched
	}
	if d, ok := v.Resolver.(*mx.DNS); ok {
		m.WatchDNS(d)
	}
	if err := v.Validate(); err != nil {
		return nil, badConfig(err)
	}
	return v, nil
}

// workerVerifier is a verifier that leaves greylisting to the bus.
func (c *Config) workerVerifier(m *api.Metrics) (*verify.Verifier, error) {
	v, err := c.verifier(m)
	if err != nil {
		return nil, err
	}
	v.GreylistMaxWait = time.Nanosecond
	if len(v.Egresses) > 0 && v.Timeout == 0 {
		// Past a minute, an address no egress of this worker can carry
		// ends here, to move on to a worker that has one, instead of
		// being held for the whole back-off (hours).
		v.Timeout = time.Minute
	}
	return v, nil
}

// A Service is the API with the job machinery behind it: the scheduler,
// the aggregator, webhooks and, embedded or when Config.Worker is set, a
// worker. Its methods are safe for concurrent use.
type Service struct {
	bus  *jobs.Bus
	node *jobs.Node
	h    http.Handler
}

// New opens the bus (starting the embedded NATS server when Config.NATS
// is empty) and prepares the API. Close it when done.
func New(ctx context.Context, cfg Config) (*Service, error) {
	logger := cfg.logger()
	metrics := api.NewMetrics()
	v, err := cfg.verifier(metrics)
	if err != nil {
		return nil, err
	}
	v.Transcript = true // for the page's "show conversation"
	wv, err := cfg.workerVerifier(metrics)
	if err != nil {
		return nil, err
	}
	a := &api.Server{Verifier: v, Web: web.Handler(), Metrics: metrics, Rate: rate.Limit(cfg.RequestRate),
		MaxBody: cfg.MaxBody, AllowPrivate: cfg.AllowPrivate, Hosts: cfg.Hosts, GreylistBudget: cfg.GreylistBudget, WebhookSecretGiven: len(cfg.WebhookSecret) > 0, Diagnose: cfg.Diagnose, Doctor: cfg.Doctor, Logger: logger}
	if cfg.Tokens != nil {
		if a.Tokens, err = api.NewTokens(cfg.Tokens); err != nil {
			return nil, badConfig(err)
		}
	}
	bus, err := jobs.Open(ctx, cfg.bus())
	if err != nil {
		return nil, err
	}
	metrics.WatchQueue(bus)
	if a.History, err = share(ctx, bus, v, wv); err != nil {
		bus.Close()
		return nil, err
	}
	if err = shareEgress(ctx, bus, a, v, wv); err != nil { // egress.go
		bus.Close()
		return nil, err
	}
	a.Bus = bus
	wh := &jobs.Webhooks{Bus: bus, Secret: cfg.WebhookSecret, AllowPrivate: cfg.AllowPrivate, DNS: cfg.WebhookDNS, Logger: logger}
	node := &jobs.Node{Bus: bus, Verifier: v, Webhooks: wh, Logger: logger,
		OnResult: metrics.Result, OnDone: func(string) { metrics.JobCompleted() },
		Worker: jobs.Worker{GreylistBudget: cfg.GreylistBudget, OnResult: verified(metrics)}}
	if cfg.NATS == "" || cfg.Worker {
		node.WorkerVerifier = wv
	}
	return &Service{bus: bus, node: node, h: a.Handler()}, nil
}

// Handler returns the HTTP API (/v1/...), the page at /, the metrics at
// /metrics and the OpenAPI document at /openapi.json, ready to serve or to
// mount on a mux of your own. The API works under a prefix
// (http.StripPrefix); the page refers to its assets and the API by
// absolute paths, so it works only at the root of its host.
func (s *Service) Handler() http.Handler { return s.h }

// Run runs the scheduler, the aggregator, the webhook sender and the
// worker, if any, until ctx ends; the worker then finishes what it holds
// for up to 10 seconds and hands the rest back to the queue. It returns
// the first failure of a part, which is ctx's error when ctx ended. Stop
// serving Handler before ending ctx, so that no request finds the jobs
// stopped.
func (s *Service) Run(ctx context.Context) error { return s.node.Run(ctx) }

// Close closes the bus (and stops the embedded NATS server). Call it
// after Run has returned.
func (s *Service) Close() { s.bus.Close() }

// String says where the jobs are: "NATS at URL" or "embedded NATS storing
// in DIR".
func (s *Service) String() string { return where(s.bus) }

func where(b *jobs.Bus) string {
	if b.URL != "" {
		return "NATS at " + b.URL
	}
	return "embedded NATS storing in " + b.DataDir
}

// share gives the verifiers the bus's shared catch-all answers and
// feedback history, and returns the history.
func share(ctx context.Context, bus *jobs.Bus, vs ...*verify.Verifier) (*jobs.KVHistory, error) {
	store, err := bus.NewCatchAllStore(ctx)
	if err != nil {
		return nil, err
	}
	h, err := bus.NewHistory(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		v.CatchAllStore, v.History = store, h
	}
	return h, nil
}

// verified counts a worker's result in m.
func verified(m *api.Metrics) func(verify.Result) {
	return func(r verify.Result) {
		code := 0
		if r.SMTP != nil {
			code = r.SMTP.Code
		}
		m.Verified(code, time.Duration(r.Duration))
	}
}

// ReadTokens reads a token file for Config.Tokens: one bearer token per
// line, blank lines and lines starting with # skipped. It fails on a file
// without tokens and on a token shorter than 16 characters.
func ReadTokens(r io.Reader) ([]string, error) {
	list, err := api.ReadTokenList(r)
	if err != nil {
		return nil, err
	}
	if _, err := api.NewTokens(list); err != nil {
		return nil, err
	}
	return list, nil
}
