package service

import (
	"context"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/service/internal/api"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/verify"
)

// shareEgress gives the verifiers the cluster's egress health (a
// JetStream KV bucket: a block one worker drew holds for all, and a
// worker's restart keeps the back-off), counts their state changes in
// the metrics, and lets the API report them (GET /v1/egress).
func shareEgress(ctx context.Context, bus *jobs.Bus, a *api.Server, vs ...*verify.Verifier) error {
	store, err := shareHealth(ctx, bus, a.Metrics, vs...)
	if err != nil {
		return err
	}
	a.EgressStore = store
	return nil
}

// shareHealth gives the verifiers the cluster's egress health and counts
// their state changes in m; a worker of its own (NewWorker) needs it as
// much as the API's: without it, its back-off would be its own, in
// memory, and lost at a restart.
func shareHealth(ctx context.Context, bus *jobs.Bus, m *api.Metrics, vs ...*verify.Verifier) (*jobs.EgressStore, error) {
	store, err := bus.NewEgressStore(ctx)
	if err != nil {
		return nil, err
	}
	m.WatchEgress(store)
	for _, v := range vs {
		v.EgressStore = store
		prev := v.OnEgressEvent
		v.OnEgressEvent = func(ev egress.EgressEvent) {
			m.EgressEvent(ev)
			if prev != nil {
				prev(ev)
			}
		}
	}
	return store, nil
}
