package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/nats-io/nats.go/jetstream"
)

// BudgetBucket holds what every (egress, provider) pair of the cluster
// has spent of its budget (egress.Spending): the commands in each
// window's slots and the sessions held now. Every worker that declares
// an egress spends the one budget of each of its pairs, and a worker's
// restart keeps what was spent.
const BudgetBucket = "mv_budgets"

// budgetBucket opens the budgets' bucket. A pair not written for 26
// hours goes: by then nothing in it counts (the day window counts a
// command for at most 25.2 hours).
func (b *Bus) budgetBucket(ctx context.Context) (jetstream.KeyValue, error) {
	return b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: BudgetBucket, TTL: 26 * time.Hour,
		Replicas: b.replicas(), History: 1})
}

// GetBudget implements egress.BudgetStore.
func (s *EgressStore) GetBudget(k egress.Key) (egress.Spending, uint64, error) {
	return getJSON[egress.Spending](s.budgets, k, "budget store")
}

// PutBudget implements egress.BudgetStore: a create when rev is 0, else
// an update that holds only while the key is still at rev.
func (s *EgressStore) PutBudget(k egress.Key, sp egress.Spending, rev uint64) (uint64, error) {
	return putJSON(s.budgets, k, sp, rev, "budget store")
}

// WrittenAt implements egress.ClockedStore: when the NATS server wrote
// k's revision rev (the KV entry's Created time), so that every worker's
// budgets are timed by the server's clock, not its own.
func (s *EgressStore) WrittenAt(k egress.Key, rev uint64) (time.Time, error) {
	ctx, cancel := timeout()
	defer cancel()
	e, err := s.budgets.GetRevision(ctx, egressKey(k), rev)
	if err != nil {
		return time.Time{}, fmt.Errorf("budget store: %w", err)
	}
	return e.Created(), nil
}
