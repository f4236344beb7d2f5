package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// A task is one address of a job, on its way to a worker.
type task struct {
	Job   string `json:"job"`
	Index int    `json:"i"`
	Addr  string `json:"a"`
	Raw   string `json:"r,omitempty"` // the entry as given, when it differs
	Ref   string `json:"f,omitempty"` // the caller's reference
	// Queued, on a task moved to another partition (moveServer), is when
	// it was first queued: its budget counts from then.
	Queued time.Time `json:"q,omitzero"`
	// Server, on a numbered partition, is the mail server the scheduler
	// found (Verifier.MailServer), so that a worker can send the task to
	// the server's own partition without a lookup (followServer).
	Server string `json:"s,omitempty"`
}

// A Scheduler routes the addresses of queued jobs to the partitions of
// their mail servers. Several may run, one per API process: each chunk of
// input goes to one of them.
type Scheduler struct {
	Bus *Bus
	// Verifier looks up mail servers (MailServer), with its DNS cache.
	Verifier *verify.Verifier
	Logger   *slog.Logger
	// Lookups bounds the DNS lookups at once; zero means 64.
	Lookups int

	providers providers
}

// jobsAtOnce is how many jobs a scheduler routes at once, so that a small
// job is not held behind a large one.
const jobsAtOnce = 8

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	cons, err := s.Bus.JS.Consumer(ctx, InputStream, schedulerConsumer)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, jobsAtOnce)
	for ctx.Err() == nil {
		if s.Bus.Disk.Full() != nil {
			sleep(ctx, time.Second) // routing writes tasks: wait for room
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		msgs, err := fetch(ctx, cons, 1, 5*time.Second)
		if err != nil && ctx.Err() == nil {
			logOrDiscard(s.Logger).Warn("scheduler: fetch", "err", err)
			sleep(ctx, time.Second)
		}
		if len(msgs) == 0 {
			<-slots
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			s.handle(ctx, msgs[0])
		})
	}
	return nil
}

func (s *Scheduler) handle(ctx context.Context, m jetstream.Msg) {
	var q queued
	if err := json.Unmarshal(m.Data(), &q); err != nil {
		logOrDiscard(s.Logger).Error("scheduler: a message that is not JSON; dropped", "err", err)
		_ = m.Term()
		return
	}
	rec, _, err := s.Bus.load(ctx, q.Job)
	switch {
	case errors.Is(err, ErrNotFound):
		if s.Bus.orphaned(m) {
			_ = m.Term()
			s.Bus.purgeStage(ctx, q.Job)
			return
		}
		_ = m.NakWithDelay(time.Second) // the commit is still going on
		return
	case err != nil:
		_ = m.NakWithDelay(time.Second)
		return
	case rec.State == Canceled:
		_ = m.Ack()
		s.Bus.purgeStage(ctx, q.Job)
		return
	}
	stop := keepAlive(ctx, m, 10*time.Second)
	if len(q.Items) > 0 {
		err = s.route(ctx, q.chunk) // queued directly by an older version
	} else {
		err = s.routeStaged(ctx, q)
	}
	stop()
	if err != nil {
		if ctx.Err() == nil {
			logOrDiscard(s.Logger).Warn("scheduler: route", "job", q.Job, "err", err)
		}
		_ = m.NakWithDelay(time.Second)
		return
	}
	if m.DoubleAck(ctx) == nil {
		s.Bus.purgeStage(ctx, q.Job)
	}
}

// route publishes each address of c to its partition. A chunk routed
// again (the scheduler failed before deleting it) queues its tasks again:
// their results are stored once all the same (see storeResult). Tasks
// carry no message ID: the stream would keep every ID in memory for its
// duplicate window, 110 MB at a million tasks.
func (s *Scheduler) route(ctx context.Context, c chunk) error {
	subjects, servers := make([]string, len(c.Items)), make([]string, len(c.Items))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(orDefault(s.Lookups, 64))
	n := s.Bus.partitions()
	for i, it := range c.Items {
		g.Go(func() error {
			key, host := s.Verifier.MailServerHost(gctx, it.Addr)
			if key == "" {
				key = strings.ToLower(it.Addr) // no server to be polite to
				subjects[i] = workSubject(partition(key, n))
				return nil
			}
			p := s.providers.forServer(key, providerOf(host))
			if p == "" {
				subjects[i], servers[i] = workSubject(partition(key, n)), key
				return nil
			}
			slot := partition(key, providerSlots)
			subjects[i] = providerSubject(p, slot)
			return s.Bus.providerPartition(gctx, p, slot)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(c.Items))
	for i, it := range c.Items {
		t := task{Job: c.Job, Index: c.Start + i, Addr: it.Addr, Raw: it.Raw, Ref: it.Ref, Server: servers[i]}
		data, err := json.Marshal(t)
		if err != nil {
			return err
		}
		f, err := s.Bus.JS.PublishAsync(subjects[i], data)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// keepAlive tells the server m is being worked on, every interval, until
// stop is called.
func keepAlive(ctx context.Context, m jetstream.Msg, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	go repeat(ctx, every, func() { _ = m.InProgress() })
	return cancel
}

// repeat calls f every interval until ctx ends.
func repeat(ctx context.Context, every time.Duration, f func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
