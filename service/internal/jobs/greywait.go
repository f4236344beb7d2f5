package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// WaitsBucket holds, per running job, how many of its addresses wait for
// a greylisting retry: the workers that sent them back to the bus say so
// (each its own entry in the job's key), and GET /v1/jobs/{id} adds them
// up (Job.Greylisted). An entry is renewed every few seconds while its
// worker has addresses waiting; one not renewed (its worker died) or past
// its last retry counts no more.
const WaitsBucket = "mv_waits"

// Timing of the waits: workers publish a change within waitsEvery, renew
// a standing count every waitsRenew, and a reader ignores an entry older
// than waitsStale.
var (
	waitsEvery = time.Second
	waitsRenew = 5 * time.Second
	waitsStale = 20 * time.Second
)

// A waitEntry is one worker's addresses of a job waiting for a retry.
type waitEntry struct {
	N     int       `json:"n"`
	Next  time.Time `json:"next"`  // the earliest retry
	Until time.Time `json:"until"` // the latest retry
	At    time.Time `json:"at"`    // when it was written
}

func (b *Bus) setupWaits(ctx context.Context) (err error) {
	b.waits, err = b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: WaitsBucket, TTL: time.Hour,
		Replicas: b.replicas(), History: 1})
	return err
}

// fillWaits sets j.Greylisted and j.NextRetry from the workers' entries,
// for a job that is not over.
func (b *Bus) fillWaits(ctx context.Context, j *Job) {
	if b.waits == nil || j.State != Queued && j.State != Running {
		return
	}
	e, err := b.waits.Get(ctx, j.ID)
	if err != nil {
		return
	}
	var byWorker map[string]waitEntry
	if json.Unmarshal(e.Value(), &byWorker) != nil {
		return
	}
	now := time.Now()
	for _, w := range byWorker {
		if w.N == 0 || now.Sub(w.At) > waitsStale || !w.Until.After(now) {
			continue
		}
		j.Greylisted += w.N
		next := w.Next
		if next.Before(now) {
			next = now
		}
		if next = next.UTC().Truncate(time.Second); j.NextRetry == nil || next.Before(*j.NextRetry) {
			j.NextRetry = &next
		}
	}
}

// greyWaits are a worker's addresses sent back to the bus to wait for a
// greylisting retry, by job and position, with when the retry comes. The
// zero value is ready; its publisher runs while it holds any.
type greyWaits struct {
	mu      sync.Mutex
	id      string                       // the worker's name in the entries
	at      map[string]map[int]time.Time // job -> position -> retry
	sent    map[string]waitEntry         // what was published last, per job
	running bool
}

// parked notes that a task waits until its retry, and makes sure the
// publisher runs.
func (w *Worker) parked(t task, retry time.Duration) {
	g := &w.grey
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.at == nil {
		g.id, g.at, g.sent = newID(), map[string]map[int]time.Time{}, map[string]waitEntry{}
	}
	if g.at[t.Job] == nil {
		g.at[t.Job] = map[int]time.Time{}
	}
	g.at[t.Job][t.Index] = time.Now().Add(retry)
	if !g.running {
		g.running = true
		go w.publishWaits()
	}
}

// publishWaits keeps the bucket's entries of this worker up to date until
// it holds no waiting address and has said so.
func (w *Worker) publishWaits() {
	g := &w.grey
	for {
		time.Sleep(waitsEvery)
		now := time.Now()
		g.mu.Lock()
		todo := map[string]waitEntry{}
		for job, at := range g.at {
			var e waitEntry
			for i, t := range at {
				if !t.After(now) {
					delete(at, i) // its retry is due: it is queued again
					continue
				}
				e.N++
				if e.Next.IsZero() || t.Before(e.Next) {
					e.Next = t
				}
				if t.After(e.Until) {
					e.Until = t
				}
			}
			if len(at) == 0 {
				delete(g.at, job)
			}
			last, ok := g.sent[job]
			if ok && last.N == e.N && last.Next.Equal(e.Next) && now.Sub(last.At) < waitsRenew || !ok && e.N == 0 {
				continue
			}
			e.At = now
			todo[job] = e
		}
		for job := range g.sent {
			if _, ok := g.at[job]; !ok {
				todo[job] = waitEntry{At: now} // none left
			}
		}
		id := g.id
		g.mu.Unlock()
		for job, e := range todo {
			err := w.Bus.putWait(job, id, e)
			g.mu.Lock()
			switch {
			case err != nil && w.Bus.NC.IsClosed():
			case err != nil:
				logOrDiscard(w.Logger).Warn("worker: publish the greylisting waits", "job", job, "err", err)
			case e.N == 0:
				delete(g.sent, job)
			default:
				g.sent[job] = e
			}
			g.mu.Unlock()
		}
		g.mu.Lock()
		if len(g.at) == 0 && len(g.sent) == 0 || w.Bus.NC.IsClosed() {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
	}
}

// putWait sets (or, with N zero, removes) one worker's entry in a job's
// key, with compare-and-set.
func (b *Bus) putWait(job, worker string, e waitEntry) error {
	if b.waits == nil {
		return nil
	}
	ctx, cancel := timeout()
	defer cancel()
	for range 16 {
		byWorker := map[string]waitEntry{}
		var rev uint64
		cur, err := b.waits.Get(ctx, job)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			rev = cur.Revision()
			_ = json.Unmarshal(cur.Value(), &byWorker)
		}
		now := time.Now()
		for k, o := range byWorker {
			if now.Sub(o.At) > waitsStale || !o.Until.After(now) {
				delete(byWorker, k) // a worker gone, or its retries all due
			}
		}
		if e.N == 0 {
			delete(byWorker, worker)
		} else {
			byWorker[worker] = e
		}
		if len(byWorker) == 0 && rev == 0 {
			return nil
		}
		data, _ := json.Marshal(byWorker)
		if rev == 0 {
			_, err = b.waits.Create(ctx, job, data)
		} else {
			_, err = b.waits.Update(ctx, job, data, rev)
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
	}
	return errors.New("jobs: the greylisting waits of job " + job + " keep changing")
}
