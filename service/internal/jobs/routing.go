package jobs

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/nats-io/nats.go/jetstream"
)

// routing is a worker's view of the cluster's egresses: the health of
// every (egress, provider) pair (the egress bucket) and the declarations
// of the running workers (the workers bucket), both kept up to date by
// watching the buckets. From it a worker decides which providers'
// partitions it takes.
type routing struct {
	self Declaration

	mu      sync.Mutex
	health  map[egress.Key]egress.Record
	workers map[string]Declaration
	// servers maps the partition name of an unidentified mail server
	// (serverToken) to its provider key, "server:" and its address.
	servers map[string]string
	// sent are the tasks sent on to another worker (moveDelay), by
	// stream sequence.
	sent map[uint64]bool
	// ready is closed once both buckets' contents have been read.
	ready chan struct{}
}

// A decision is where a provider's work should go, seen from one worker.
type decision struct {
	// Mine: an egress of this worker may serve the provider now.
	Mine bool
	// Others: another running worker has one.
	Others bool
	// Comeback is the earliest time a backed-off egress that may serve
	// the provider, of any running worker, comes back; zero when none is
	// backed off.
	Comeback time.Time
}

// Take tells whether the worker takes the provider's partitions: while
// it can serve it, or while no worker can (someone has to end the
// addresses, within their budget).
func (d decision) Take() bool { return d.Mine || !d.Others }

func newRouting(self Declaration) *routing {
	return &routing{self: self, health: map[egress.Key]egress.Record{}, workers: map[string]Declaration{},
		servers: map[string]string{}, ready: make(chan struct{})}
}

// decide says where provider's work should go, now. The provider is a
// provider's name, the provider key of an unidentified server
// ("server:ADDR"), or the name of that server's partition (serverToken).
func (r *routing) decide(provider string, now time.Time) decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pk, ok := r.servers[provider]; ok {
		provider = pk
	}
	var d decision
	mine, until := r.serves(r.self, provider, now)
	d.Mine = mine
	d.Comeback = until
	for id, w := range r.workers {
		if id == r.self.ID || !live(w, now) {
			continue
		}
		ok, u := r.serves(w, provider, now)
		d.Others = d.Others || ok
		if !u.IsZero() && (d.Comeback.IsZero() || u.Before(d.Comeback)) {
			d.Comeback = u
		}
	}
	return d
}

// serves tells whether a worker has an egress that may serve provider
// now (one that provider's pins allow and that is not backed off), and
// when the first of its backed-off ones comes back. A worker without
// egresses probes directly, with no health kept: it always may. r.mu is
// held.
func (r *routing) serves(w Declaration, provider string, now time.Time) (bool, time.Time) {
	if len(w.Egresses) == 0 {
		return true, time.Time{}
	}
	pinned := map[string]bool{}
	for _, e := range w.Egresses {
		for _, p := range e.Providers {
			if p != "*" {
				pinned[p] = true
			}
		}
	}
	ok := false
	var until time.Time
	for _, de := range w.Egresses {
		e := egress.Egress{Providers: de.Providers}
		if !e.Serves(provider, pinned) {
			continue
		}
		off, u := backedOff(r.health[egress.Key{Egress: de.ID, Provider: provider}], now)
		if !off {
			ok = true
			continue
		}
		if until.IsZero() || u.Before(until) {
			until = u
		}
	}
	return ok, until
}

// refresh reads the health of this worker's own egresses for provider
// from the store itself, not waiting for the watcher.
func (r *routing) refresh(store egress.Store, provider string) {
	if store == nil {
		return
	}
	for _, e := range r.self.Egresses {
		k := egress.Key{Egress: e.ID, Provider: provider}
		rec, _, err := store.Get(k)
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.health[k] = rec
		r.mu.Unlock()
	}
}

// backedOff is egress.Health.BackedOff on a record at hand.
func backedOff(rec egress.Record, now time.Time) (bool, time.Time) {
	switch {
	case rec.State.Adverse() && now.Before(rec.Until):
		return true, rec.Until
	case rec.State == egress.StateHalfOpen && now.Before(rec.ProbeUntil):
		return true, rec.ProbeUntil
	}
	return false, time.Time{}
}

// avoids lists the providers among these whose partitions the worker
// leaves to others now.
func (r *routing) avoids(providers []string, now time.Time) []Avoided {
	out := []Avoided{}
	for _, p := range providers {
		if d := r.decide(p, now); !d.Take() {
			out = append(out, Avoided{Provider: r.keyOf(p), Until: d.Comeback})
		}
	}
	return out
}

// watch keeps the view up to date until ctx ends: the health records
// and the declarations, each bucket watched afresh every minute (and
// after any failure), so that a watcher lost with a NATS server is
// replaced.
func (r *routing) watch(ctx context.Context, health, workers jetstream.KeyValue) {
	var wg, first sync.WaitGroup
	first.Add(2)
	go func() {
		first.Wait()
		close(r.ready)
	}()
	wg.Go(func() {
		var once sync.Once
		defer once.Do(first.Done)
		follow(ctx, health, func(all map[string]jetstream.KeyValueEntry) {
			m := map[egress.Key]egress.Record{}
			for key, e := range all {
				k, ok := keyOfEgress(key)
				var rec egress.Record
				if ok && json.Unmarshal(e.Value(), &rec) == nil {
					m[k] = rec
				}
			}
			r.mu.Lock()
			r.health = m
			for k := range m {
				r.learnLocked(k.Provider)
			}
			r.mu.Unlock()
			once.Do(first.Done)
		})
	})
	wg.Go(func() {
		var once sync.Once
		defer once.Do(first.Done)
		follow(ctx, workers, func(all map[string]jetstream.KeyValueEntry) {
			m := map[string]Declaration{}
			for key, e := range all {
				if d, ok := declarationOf(e); ok {
					m[key] = d
				}
			}
			r.mu.Lock()
			r.workers = m
			r.mu.Unlock()
			once.Do(first.Done)
		})
	})
	wg.Wait()
}

// follow watches every key of kv and hands set the whole bucket: once
// the watcher has delivered what is stored, then after each change.
func follow(ctx context.Context, kv jetstream.KeyValue, set func(map[string]jetstream.KeyValueEntry)) {
	for ctx.Err() == nil {
		w, err := kv.WatchAll(ctx)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		all := map[string]jetstream.KeyValueEntry{}
		ready := false
		renew := time.NewTimer(time.Minute)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-renew.C:
				break loop
			case e, ok := <-w.Updates():
				if !ok {
					break loop
				}
				if e == nil {
					ready = true
				} else if e.Operation() == jetstream.KeyValuePut {
					all[e.Key()] = e
				} else {
					delete(all, e.Key())
				}
				if ready {
					set(all)
				}
			}
		}
		renew.Stop()
		_ = w.Stop()
	}
}

// providersOf lists the providers of these partition consumers.
func providersOf(consumers []string) []string {
	var out []string
	for _, c := range consumers {
		if p := providerOfConsumer(c); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
