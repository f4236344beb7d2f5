package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// aggBatch is the results the aggregator takes at once; it is also the
// consumer's MaxAckPending, so that after a crash the unacknowledged batch
// is delivered again before anything newer.
const aggBatch = 256

// An Aggregator keeps each job's counts from the results stream and
// finishes jobs. The bus pins its consumer to one process at a time; a
// result is counted once because a job remembers the last stream sequence
// it counted, and results come in stream order.
type Aggregator struct {
	Bus    *Bus
	Logger *slog.Logger
	// OnDone, when set, is called for each job that finished, once its
	// record says so (and holds the webhook to send, if any).
	OnDone func(id string)
	// OnResult, when set, sees the status and reason of each result counted.
	OnResult func(status, reason string)
}

type applied struct {
	seq            uint64
	status, reason string
}

// Run aggregates until ctx ends.
func (a *Aggregator) Run(ctx context.Context) error {
	cons, err := a.Bus.JS.Consumer(ctx, ResultsStream, aggregatorConsumer)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		msgs, err := fetch(ctx, cons, aggBatch, 5*time.Second, jetstream.FetchPriorityGroup(priorityGroup))
		if err != nil {
			if ctx.Err() == nil {
				logOrDiscard(a.Logger).Warn("aggregator: fetch", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		for {
			err := a.apply(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			logOrDiscard(a.Logger).Warn("aggregator: apply", "err", err)
			sleep(ctx, time.Second)
		}
		_ = msgs[len(msgs)-1].DoubleAck(ctx) // acknowledges the whole batch
	}
	return nil
}

func (a *Aggregator) apply(ctx context.Context, msgs []jetstream.Msg) error {
	byJob := map[string][]applied{}
	var order []string
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		job, ok := jobOfSubject(m.Subject())
		if !ok {
			continue
		}
		var r struct{ Status, Reason string }
		_ = json.Unmarshal(m.Data(), &r)
		if _, seen := byJob[job]; !seen {
			order = append(order, job)
		}
		byJob[job] = append(byJob[job], applied{md.Sequence.Stream, r.Status, r.Reason})
	}
	for _, job := range order {
		var fresh []applied
		var finished bool
		_, err := a.Bus.update(ctx, job, func(rec *record) bool {
			fresh, finished = fresh[:0], false
			for _, ap := range byJob[job] {
				if ap.seq > rec.Seq {
					fresh = append(fresh, ap)
				}
			}
			if len(fresh) == 0 {
				return false
			}
			for _, ap := range fresh {
				rec.Done++
				rec.Counts[ap.status]++
				rec.Reasons[ap.reason]++
				rec.Seq = ap.seq
			}
			if rec.State == Queued {
				rec.State = Running
			}
			if rec.State == Running && rec.Done >= rec.Total {
				rec.State, finished = Done, true
				now := time.Now().UTC().Truncate(time.Millisecond)
				rec.Finished = &now
				if rec.WebhookURL != "" {
					rec.Webhook = webhookPending
				}
			}
			return true
		})
		if errors.Is(err, ErrNotFound) {
			continue // expired or never stored
		}
		if err != nil {
			return err
		}
		if a.OnResult != nil {
			for _, ap := range fresh {
				a.OnResult(ap.status, ap.reason)
			}
		}
		if finished && a.OnDone != nil {
			a.OnDone(job)
		}
	}
	return nil
}

// jobOfSubject parses mv.result.<job>.<index>.
func jobOfSubject(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "mv.result.")
	if !ok {
		return "", false
	}
	job, _, ok := strings.Cut(rest, ".")
	return job, ok
}
