package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A pump is a worker's subscriptions to the partitions. It stops while
// the store's disk is full (a result could not be stored) and starts
// again once there is room: a task taken meanwhile would only come back,
// a delivery spent each time, until it was dead-lettered.
type pump struct {
	w  *Worker
	in chan<- jetstream.Msg

	mu     sync.Mutex
	ccs    []jetstream.ConsumeContext
	closed bool
}

// start subscribes to every partition.
func (p *pump) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ccs != nil {
		return nil
	}
	for part := range p.w.Bus.partitions() {
		cons, err := p.w.Bus.JS.Consumer(ctx, WorkStream, partitionConsumer(part))
		if err != nil {
			p.stopLocked()
			return err
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			select {
			case p.in <- m:
			case <-ctx.Done():
				_ = m.Nak()
			}
		}, jetstream.PullPriorityGroup(priorityGroup), jetstream.PullMaxMessages(32), jetstream.PullExpiry(p.w.Bus.pullExpiry()))
		if err != nil {
			p.stopLocked()
			return err
		}
		p.ccs = append(p.ccs, cc)
	}
	return nil
}

func (p *pump) stopLocked() {
	for _, cc := range p.ccs {
		cc.Stop()
	}
	p.ccs = nil
}

// close stops the pump for good.
func (p *pump) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.stopLocked()
}

// pauseWhileFull stops the pump while the disk is full, until ctx ends.
func (p *pump) pauseWhileFull(ctx context.Context) {
	repeat(ctx, time.Second, func() {
		if p.w.Bus.Disk.Full() != nil {
			p.mu.Lock()
			if p.ccs != nil {
				logOrDiscard(p.w.Logger).Warn("worker: storage full; paused")
				p.stopLocked()
			}
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		paused := p.ccs == nil && !p.closed
		p.mu.Unlock()
		if paused {
			if err := p.start(ctx); err != nil {
				logOrDiscard(p.w.Logger).Warn("worker: resume", "err", err)
			} else {
				logOrDiscard(p.w.Logger).Info("worker: room again; resumed")
			}
		}
	})
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
