package service

import (
	"context"
	"errors"
	"net/http"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/service/internal/api"
	"github.com/mailverify/mailverify/service/internal/jobs"
)

// A Worker probes mail servers for the partitions of the work the
// cluster pins to it: run one per egress address (or one per pool of
// them, Verifier.Egresses), on as many machines as needed, all with the
// same Config.NATS. Each partition is owned by one worker at a time, so
// one worker's per-host limits hold for each mail server across the
// cluster. A worker declares its egresses to the cluster (GET /v1/egress
// lists them under "workers"), and takes the partitions of an identified
// provider (google, microsoft365, yahoo, ...) only while one of its
// egresses is not backed off for it, or while no running worker has
// such an egress.
type Worker struct {
	bus     *jobs.Bus
	w       *jobs.Worker
	metrics *api.Metrics
}

// NewWorker connects to the cluster of Config.NATS, which it needs (an
// embedded server is reachable only from its Service, which runs its own
// worker). Of the Config it uses the bus settings, NewVerifier,
// GreylistBudget and Logger. Close it when done.
func NewWorker(ctx context.Context, cfg Config) (*Worker, error) {
	if cfg.NATS == "" {
		return nil, badConfig(errors.New("a worker needs Config.NATS (an embedded server is reachable only from its Service)"))
	}
	metrics := api.NewMetrics()
	wv, err := cfg.workerVerifier(metrics)
	if err != nil {
		return nil, err
	}
	bus, err := jobs.Open(ctx, cfg.bus())
	if err != nil {
		return nil, err
	}
	if _, err := share(ctx, bus, wv); err != nil {
		bus.Close()
		return nil, err
	}
	if _, err := shareHealth(ctx, bus, metrics, wv); err != nil { // egress.go
		bus.Close()
		return nil, err
	}
	w := &jobs.Worker{Bus: bus, Verifier: wv, Logger: cfg.logger(), GreylistBudget: cfg.GreylistBudget, OnResult: verified(metrics)}
	return &Worker{bus: bus, w: w, metrics: metrics}, nil
}

// Run probes until ctx ends, then finishes what it holds for up to 10
// seconds and hands the rest back to the queue. It returns nil or the
// failure that stopped it.
func (w *Worker) Run(ctx context.Context) error { return w.w.Run(ctx) }

// MetricsHandler serves the worker's Prometheus metrics.
func (w *Worker) MetricsHandler() http.Handler { return w.metrics.Handler() }

// Egresses returns the egresses the worker declares to the cluster; none
// means it probes directly, with no egress health kept, and so serves
// every provider.
func (w *Worker) Egresses() []egress.Egress { return w.w.Verifier.Egresses }

// Close closes the connection to the cluster. Call it after Run has
// returned.
func (w *Worker) Close() { w.bus.Close() }

// String says where the worker's work comes from: "NATS at URL".
func (w *Worker) String() string { return where(w.bus) }
