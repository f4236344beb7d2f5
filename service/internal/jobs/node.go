package jobs

import (
	"context"
	"log/slog"
	"sync"

	"github.com/mailverify/mailverify/verify"
)

// A Node is the parts of the service one process runs: the scheduler,
// the aggregator, the dead-letter janitor and the webhook sender always
// ("serve"), and a worker when it has a WorkerVerifier (embedded mode, or
// "worker" alone with Worker set and the rest off).
type Node struct {
	Bus *Bus
	// Verifier looks up mail servers for the scheduler; nil runs no
	// scheduler, aggregator, janitor or webhooks.
	Verifier *verify.Verifier
	// WorkerVerifier probes; nil runs no worker. See Worker.Verifier.
	WorkerVerifier *verify.Verifier
	Webhooks       *Webhooks
	Worker         Worker // settings of the worker: GreylistBudget, Drain, OnResult
	// OnResult and OnDone are the aggregator's hooks (metrics).
	OnResult func(status, reason string)
	OnDone   func(id string)
	Logger   *slog.Logger
}

// Run runs the parts until ctx ends and each has stopped.
func (n *Node) Run(ctx context.Context) error {
	type runner interface{ Run(context.Context) error }
	var parts []runner
	if n.Verifier != nil {
		parts = append(parts, &Scheduler{Bus: n.Bus, Verifier: n.Verifier, Logger: n.Logger}, &Janitor{Bus: n.Bus, Logger: n.Logger})
		agg := &Aggregator{Bus: n.Bus, Logger: n.Logger, OnResult: n.OnResult}
		wh := n.Webhooks
		if wh == nil {
			wh = &Webhooks{Bus: n.Bus, Logger: n.Logger}
		}
		wh.Init()
		agg.OnDone = func(id string) {
			wh.Notify(id) // a job without a webhook is no claim: nothing is sent
			if n.OnDone != nil {
				n.OnDone(id)
			}
		}
		parts = append(parts, agg, wh)
	}
	if n.WorkerVerifier != nil {
		w := &Worker{Bus: n.Bus, Verifier: n.WorkerVerifier, Logger: n.Logger, GreylistBudget: n.Worker.GreylistBudget,
			Drain: n.Worker.Drain, OnResult: n.Worker.OnResult}
		parts = append(parts, w)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, p := range parts {
		wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
