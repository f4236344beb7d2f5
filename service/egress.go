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
	store, err := bus.NewEgressStore(ctx)
	if err != nil {
		return err
	}
	a.EgressStore = store
	a.Metrics.WatchEgress(store)
	for _, v := range vs {
		v.EgressStore = store
		prev := v.OnEgressEvent
		v.OnEgressEvent = func(ev egress.EgressEvent) {
			a.Metrics.EgressEvent(ev)
			if prev != nil {
				prev(ev)
			}
		}
	}
	return nil
}
