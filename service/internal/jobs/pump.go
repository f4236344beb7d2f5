package jobs

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A pump is a worker's subscriptions to the partitions: every numbered
// one, and each provider's while the worker takes that provider's work
// (routing). It stops while the store's disk is full (a result could not
// be stored) and starts again once there is room: a task taken meanwhile
// would only come back, a delivery spent each time, until it was
// dead-lettered.
type pump struct {
	w  *Worker
	in chan<- jetstream.Msg

	mu     sync.Mutex
	ccs    map[string]*consumption // by consumer name
	known  []string                // the provider partitions' consumers
	paused bool
	closed bool
}

// A consumption is the pump's subscription to one partition, with the
// pin the server gave it (to hand the partition over at once when the
// worker stops taking it).
type consumption struct {
	cc  jetstream.ConsumeContext
	mu  sync.Mutex
	pin string
}

// start subscribes to every numbered partition, and to the providers'
// the worker takes.
func (p *pump) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ccs == nil {
		p.ccs = map[string]*consumption{}
	}
	if p.closed || p.paused {
		return nil
	}
	for part := range p.w.Bus.partitions() {
		if err := p.subscribeLocked(ctx, partitionConsumer(part)); err != nil {
			p.stopLocked()
			return err
		}
	}
	for _, name := range p.known {
		if p.wants(name) {
			if err := p.subscribeLocked(ctx, name); err != nil {
				p.stopLocked()
				return err
			}
		}
	}
	return nil
}

// wants tells whether the worker takes a provider partition's work now.
func (p *pump) wants(name string) bool {
	prov := providerOfConsumer(name)
	return prov == "" || p.w.route == nil || p.w.route.decide(prov, time.Now()).Take()
}

func (p *pump) subscribeLocked(ctx context.Context, name string) error {
	if _, ok := p.ccs[name]; ok {
		return nil
	}
	cons, err := p.w.Bus.JS.Consumer(ctx, WorkStream, name)
	if err != nil {
		return err
	}
	c := &consumption{}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if pin := m.Headers().Get("Nats-Pin-Id"); pin != "" {
			c.mu.Lock()
			c.pin = pin
			c.mu.Unlock()
		}
		select {
		case p.in <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
	}, jetstream.PullPriorityGroup(priorityGroup), jetstream.PullMaxMessages(32), jetstream.PullExpiry(p.w.Bus.pullExpiry()))
	if err != nil {
		return err
	}
	c.cc = cc
	p.ccs[name] = c
	return nil
}

func (p *pump) stopLocked() {
	for name, c := range p.ccs {
		c.cc.Stop()
		delete(p.ccs, name)
	}
}

// close stops the pump for good.
func (p *pump) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.stopLocked()
}

// run keeps the subscriptions right until ctx ends, every second: none
// while the disk is full; each provider's partitions while the worker
// takes its work. The providers' partitions are listed every 2 seconds.
func (p *pump) run(ctx context.Context) {
	n := 0
	repeat(ctx, time.Second, func() {
		if n%2 == 0 {
			p.list(ctx)
		}
		n++
		p.pauseWhileFull(ctx)
		p.reroute(ctx)
	})
}

// list learns the providers' partitions.
func (p *pump) list(ctx context.Context) {
	names, err := p.w.Bus.workConsumers(ctx)
	if err != nil {
		return
	}
	names = slices.DeleteFunc(names, func(s string) bool { return providerOfConsumer(s) == "" })
	p.mu.Lock()
	p.known = names
	p.mu.Unlock()
}

// pauseWhileFull stops the pump while the disk is full, and starts it
// again once there is room.
func (p *pump) pauseWhileFull(ctx context.Context) {
	full := p.w.Bus.Disk.Full() != nil
	p.mu.Lock()
	was := p.paused
	p.paused = full
	if full && !was {
		logOrDiscard(p.w.Logger).Warn("worker: storage full; paused")
		p.stopLocked()
	}
	p.mu.Unlock()
	if was && !full {
		if err := p.start(ctx); err != nil {
			logOrDiscard(p.w.Logger).Warn("worker: resume", "err", err)
		} else {
			logOrDiscard(p.w.Logger).Info("worker: room again; resumed")
		}
	}
}

// reroute subscribes to the provider partitions the worker takes now and
// leaves the others, handing each over at once (unpinning it) so that a
// worker with a healthy egress gets it without waiting out PinnedTTL.
func (p *pump) reroute(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.paused {
		return
	}
	for _, name := range p.known {
		_, on := p.ccs[name]
		want := p.wants(name)
		switch {
		case want && !on:
			if err := p.subscribeLocked(ctx, name); err != nil {
				logOrDiscard(p.w.Logger).Warn("worker: subscribe", "partition", name, "err", err)
			}
		case !want && on:
			c := p.ccs[name]
			c.cc.Drain() // what it has fetched goes on to feed, which sends it on (detour)
			delete(p.ccs, name)
			logOrDiscard(p.w.Logger).Info("worker: no healthy egress for the provider; its partition left to others", "partition", name)
			c.mu.Lock()
			pin := c.pin
			c.mu.Unlock()
			go p.w.Bus.unpin(ctx, name, pin)
		}
	}
}

// unpin hands a partition over when this worker (pin) holds it.
func (b *Bus) unpin(ctx context.Context, name, pin string) {
	if pin == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := b.JS.Stream(ctx, WorkStream)
	if err != nil {
		return
	}
	c, err := s.Consumer(ctx, name)
	if err != nil {
		return
	}
	info, err := c.Info(ctx)
	if err != nil {
		return
	}
	for _, g := range info.PriorityGroups {
		if g.Group == priorityGroup && g.PinnedClientID == pin {
			_ = s.UnpinConsumer(ctx, name, priorityGroup)
		}
	}
}

// roomFor waits, holding m, while the disk is full; it returns false when
// ctx ended first.
func (w *Worker) roomFor(ctx context.Context, m jetstream.Msg) bool {
	for w.Bus.Disk.Full() != nil {
		_ = m.InProgress()
		sleep(ctx, time.Second)
		if ctx.Err() != nil {
			return false
		}
	}
	return true
}
