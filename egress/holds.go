package egress

import (
	"slices"
	"sync"
	"time"
)

// A heldHold is one hold this process renews. Its lost channel is closed,
// and it is renewed no more, when it was not renewed by lostMargin before
// its Until (the store was out of reach or too slow), or the store no
// longer has it: its session must end before the hold lapses, since
// another process may then take the session.
type heldHold struct {
	lost  chan struct{}
	timer *time.Timer
	once  sync.Once
}

func (h *heldHold) lose() { h.once.Do(func() { close(h.lost) }) }

// lostMargin is how long before a hold's Until its holder is told it is
// lost when no renewal came: a quarter of SessionTTL, for the session to
// end.
func (b *Budgets) lostMargin() time.Duration { return b.sessionTTL() / 4 }

// hold records a session this process holds, until (by this process's
// clock), and starts renewing the holds when it is the first.
func (b *Budgets) hold(k Key, id string, until time.Time) *heldHold {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		b.held = map[Key]map[string]*heldHold{}
	}
	if b.held[k] == nil {
		b.held[k] = map[string]*heldHold{}
	}
	h := &heldHold{lost: make(chan struct{})}
	h.timer = time.AfterFunc(until.Sub(b.now())-b.lostMargin(), func() { b.lose(k, id) })
	b.held[k][id] = h
	if !b.renewing {
		b.renewing = true
		go b.renew()
	}
	return h
}

// lose tells id's session its hold is lost and stops renewing it.
func (b *Budgets) lose(k Key, id string) {
	b.mu.Lock()
	h := b.held[k][id]
	delete(b.held[k], id)
	if len(b.held[k]) == 0 {
		delete(b.held, k)
	}
	b.mu.Unlock()
	if h != nil {
		h.timer.Stop()
		h.lose()
	}
}

func (b *Budgets) unhold(k Key, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h := b.held[k][id]; h != nil {
		h.timer.Stop()
	}
	delete(b.held[k], id)
	if len(b.held[k]) == 0 {
		delete(b.held, k)
	}
}

// renewAtOnce bounds the pairs renewed at once.
const renewAtOnce = 16

// renew extends the holds of the sessions this process holds, every third
// of SessionTTL, every pair at once (bounded by renewAtOnce), until it
// holds none. A hold the store no longer has (it lapsed while the store
// was out of reach) is not put back: its session is told it is lost.
func (b *Budgets) renew() {
	for {
		time.Sleep(b.sessionTTL() / 3)
		b.mu.Lock()
		if len(b.held) == 0 {
			b.renewing = false
			b.mu.Unlock()
			return
		}
		todo := map[Key][]string{}
		for k, ids := range b.held {
			for id := range ids {
				todo[k] = append(todo[k], id)
			}
		}
		b.mu.Unlock()
		var wg sync.WaitGroup
		sem := make(chan struct{}, renewAtOnce)
		for k, ids := range todo {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				b.renewPair(k, ids)
			})
		}
		wg.Wait()
	}
}

// renewPair extends k's holds ids in one write.
func (b *Budgets) renewPair(k Key, ids []string) {
	var renewed, gone []string
	var until time.Time
	err := b.update(k, func(s *Spending, now time.Time) error {
		renewed, gone = nil, nil
		live := liveHolds(s.Sessions, now)
		s.Sessions = slices.DeleteFunc(slices.Clone(live), func(h Hold) bool { return slices.Contains(ids, h.ID) })
		until = now.Add(b.sessionTTL())
		for _, id := range ids {
			switch {
			case !slices.ContainsFunc(live, func(h Hold) bool { return h.ID == id }):
				gone = append(gone, id) // lapsed: another may hold it now
			case b.holds(k, id): // not released meanwhile
				s.Sessions = append(s.Sessions, Hold{ID: id, Until: until})
				renewed = append(renewed, id)
			}
		}
		return nil
	})
	for _, id := range gone {
		b.lose(k, id)
	}
	if err != nil {
		return // the lost timers tell the sessions in time
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range renewed {
		if h := b.held[k][id]; h != nil {
			h.timer.Reset(until.Sub(b.now()) - b.lostMargin())
		}
	}
}

func (b *Budgets) holds(k Key, id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held[k][id] != nil
}
