package egress

import (
	"errors"
	"time"
)

// A ClockedStore is a BudgetStore that stamps each write with its own
// clock (a JetStream KV entry's Created time is the NATS server's):
// WrittenAt returns when k's revision rev was written, by the store's
// clock. Budgets on a ClockedStore time their windows and holds by the
// store's clock, not their own: each estimates its offset from a write
// of its own, once every clockEvery, so that processes whose clocks
// disagree still count one window (within the round trip of the
// estimate).
type ClockedStore interface {
	BudgetStore
	WrittenAt(k Key, rev uint64) (time.Time, error)
}

// ErrNoClock is WrittenAt's error from a store that keeps no clock.
var ErrNoClock = errors.New("egress: the store keeps no clock")

// clockEvery is how often a Budgets estimates its offset again.
const clockEvery = time.Minute

// localNow is this process's clock (Now, or time.Now).
func (b *Budgets) localNow() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// syncClock estimates, when due, the offset of the store's clock from
// this process's, by rewriting k's Spending unchanged and reading when
// the store wrote it. A failure (a store that keeps no clock, a conflict)
// keeps the previous offset.
func (b *Budgets) syncClock(k Key) {
	cs, ok := b.Store.(ClockedStore)
	if !ok {
		return
	}
	b.clockMu.Lock()
	due := b.clockAt.IsZero() || b.localNow().Sub(b.clockAt) >= clockEvery
	if due {
		b.clockAt = b.localNow()
	}
	b.clockMu.Unlock()
	if !due {
		return
	}
	s, rev, err := cs.GetBudget(k)
	if err != nil {
		return
	}
	t0 := b.localNow()
	rev, err = cs.PutBudget(k, s, rev)
	t1 := b.localNow()
	if err != nil {
		return
	}
	at, err := cs.WrittenAt(k, rev)
	if err != nil {
		return
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	b.offset.Store(int64(at.Sub(mid)))
}
