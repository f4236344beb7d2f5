package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// aggBatch is the most results the aggregator applies at once.
const aggBatch = 256

// positionKey, in the state bucket, is the stream sequence up to which
// every result has been counted.
const positionKey = "aggregator.position"

// An Aggregator keeps each job's counts from the results stream and
// finishes jobs. It reads the stream strictly in order (an ordered
// consumer from its stored position), and a job's record remembers the
// last sequence counted into it: a result is counted once, even when an
// aggregator restarts from an older position or two run at once (one per
// API process), since whoever moves a job's sequence past a result has
// counted it. A durable consumer would not do: after a crash it delivers
// the unacknowledged results again after newer ones.
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
	var pos uint64
	if e, err := a.Bus.State.Get(ctx, positionKey); err == nil {
		pos, _ = strconv.ParseUint(string(e.Value()), 10, 64)
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	for ctx.Err() == nil {
		cfg := jetstream.OrderedConsumerConfig{InactiveThreshold: time.Minute}
		if pos > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, pos+1
		}
		cons, err := a.Bus.JS.OrderedConsumer(ctx, ResultsStream, cfg)
		if err != nil {
			logOrDiscard(a.Logger).Warn("aggregator: consumer", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		pos = a.follow(ctx, cons, pos)
	}
	return nil
}

// follow applies what cons delivers until ctx ends or reading fails, and
// returns the position reached. It reads one continuous subscription:
// a Fetch on an ordered consumer makes a new consumer on the server each
// time, which left the counts seconds behind the results.
func (a *Aggregator) follow(ctx context.Context, cons jetstream.Consumer, pos uint64) uint64 {
	it, err := cons.Messages(jetstream.PullMaxMessages(aggBatch))
	if err != nil {
		logOrDiscard(a.Logger).Warn("aggregator: subscribe", "err", err)
		sleep(ctx, time.Second)
		return pos
	}
	defer it.Stop()
	for ctx.Err() == nil {
		msgs, err := nextBatch(ctx, it)
		if err != nil {
			if ctx.Err() == nil {
				logOrDiscard(a.Logger).Warn("aggregator: read", "err", err)
				sleep(ctx, time.Second)
			}
			return pos
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
				return pos
			}
			logOrDiscard(a.Logger).Warn("aggregator: apply", "err", err)
			sleep(ctx, time.Second)
		}
		if md, err := msgs[len(msgs)-1].Metadata(); err == nil && md.Sequence.Stream > pos {
			pos = md.Sequence.Stream
			_, _ = a.Bus.State.Put(ctx, positionKey, []byte(strconv.FormatUint(pos, 10)))
		}
	}
	return pos
}

// nextBatch waits up to 5 seconds for a message, then takes those that
// are there already, up to aggBatch.
func nextBatch(ctx context.Context, it jetstream.MessagesContext) ([]jetstream.Msg, error) {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	first, err := it.Next(jetstream.NextContext(wctx))
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	msgs := []jetstream.Msg{first}
	for len(msgs) < aggBatch {
		m, err := it.Next(jetstream.NextMaxWait(time.Millisecond))
		if err != nil {
			break
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
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
