package jobs

import (
	"context"
	"encoding/json"
	"errors"
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
	ctx, cancel := timeout()
	defer cancel()
	e, err := s.budgets.Get(ctx, egressKey(k))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return egress.Spending{}, 0, nil
	case err != nil:
		return egress.Spending{}, 0, fmt.Errorf("budget store: %w", err)
	}
	var sp egress.Spending
	if err := json.Unmarshal(e.Value(), &sp); err != nil {
		return egress.Spending{}, 0, fmt.Errorf("budget store: %s: %w", k, err)
	}
	return sp, e.Revision(), nil
}

// PutBudget implements egress.BudgetStore: a create when rev is 0, else
// an update that holds only while the key is still at rev.
func (s *EgressStore) PutBudget(k egress.Key, sp egress.Spending, rev uint64) (uint64, error) {
	b, err := json.Marshal(sp)
	if err != nil {
		return 0, err
	}
	ctx, cancel := timeout()
	defer cancel()
	if rev == 0 {
		rev, err = s.budgets.Create(ctx, egressKey(k), b)
	} else {
		rev, err = s.budgets.Update(ctx, egressKey(k), b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, egress.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("budget store: %w", err)
	}
	return rev, nil
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
