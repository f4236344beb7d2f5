package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
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

	jobs  map[string]*jobSeen // aggdedupe.go
	swept time.Time           // when jobs was last swept of those idle
}

// applied is a result read: copy is set for a later copy of an entry's
// result (index -1: a result without its entry), which is not counted.
type applied struct {
	seq            uint64
	index          int
	copy           bool
	status, reason string
}

// Reading the results: the server sends a heartbeat every aggHeartbeat
// while a pull is open, and the client starts a new consumer after two are
// missed, which is how it learns that the server holding the consumer died
// (an ordered consumer has one replica; nothing else tells the client).
// It is also how the client recovers when it believes a pull is still
// open that the server no longer holds (seen at a million results on a
// loaded machine: the server had no pull waiting and 44,739 results
// pending while the client waited): the done count was then 10 to 25 s
// behind the results, so the heartbeat is short.
// aggQuiet is how long the aggregator waits with nothing arriving while the
// stream holds results past its position before it starts a new consumer
// itself; it doubles each time that finds nothing, up to aggQuietMax. The
// missed heartbeats took about a second to notice a lost pull at a million
// results (the done count 1.0 to 1.2 s behind in most runs): the stalled
// client had no pull at the server (no request waiting, thousands of
// results pending) while the client counted one as open. A look at the
// stream's last sequence after 300 ms of quiet ends that sooner. While
// nothing arrives and the stream is not ahead, the looks space out
// (doubling up to aggProbeMax), so an idle aggregator asks seldom.
var (
	aggExpiry    = 5 * time.Second
	aggHeartbeat = 500 * time.Millisecond
	aggQuiet     = 300 * time.Millisecond
	aggQuietMax  = 10 * time.Minute
	aggProbeMax  = 5 * time.Second
)

// positionEvery is how often a busy aggregator stores its position; an
// idle one (nothing delivered for aggQuiet/3) or one that stops stores it
// at once. An aggregator that starts reads again what came after the
// stored position, and the records skip what they counted (a record's
// Seq), so the position only bounds that rereading. Stored after every
// batch, it was hundreds of writes a second during a million-address job,
// and they kept the state bucket's 4 MB file block in the server's memory.
var positionEvery = 15 * time.Second

// reading is where an aggregator is in the stream.
type reading struct {
	pos     uint64        // every result up to here is counted
	quiet   time.Duration // see aggQuiet
	saved   uint64        // the position last stored
	savedAt time.Time
}

// savePosition stores r.pos when it moved: at once, or when positionEvery
// has passed since it was last stored.
func (a *Aggregator) savePosition(ctx context.Context, r *reading, now bool) {
	if r.pos == r.saved || (!now && time.Since(r.savedAt) < positionEvery) {
		return
	}
	if _, err := a.Bus.State.Put(ctx, positionKey, []byte(strconv.FormatUint(r.pos, 10))); err == nil {
		r.saved, r.savedAt = r.pos, time.Now()
	}
}

// Run aggregates until ctx ends.
func (a *Aggregator) Run(ctx context.Context) error {
	r := &reading{quiet: aggQuiet}
	if e, err := a.Bus.State.Get(ctx, positionKey); err == nil {
		r.pos, _ = strconv.ParseUint(string(e.Value()), 10, 64)
		r.saved = r.pos
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	for ctx.Err() == nil {
		cfg := jetstream.OrderedConsumerConfig{InactiveThreshold: time.Minute}
		if r.pos > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.pos+1
		}
		cons, err := a.Bus.JS.OrderedConsumer(ctx, ResultsStream, cfg)
		if err != nil {
			logOrDiscard(a.Logger).Warn("aggregator: consumer", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		a.follow(ctx, cons, r)
	}
	return nil
}

// follow applies what cons delivers until ctx ends, reading fails or the
// reading looks stuck. It reads one continuous subscription: a Fetch on an
// ordered consumer makes a new consumer on the server each time, which left
// the counts seconds behind the results.
//
// One goroutine waits in Next for as long as it takes: the client checks
// the heartbeats only inside Next, and a Next given a deadline shorter than
// two heartbeats (as this loop once did, 5 s) never notices that they
// stopped, so a consumer lost with its server was waited on forever.
func (a *Aggregator) follow(ctx context.Context, cons jetstream.Consumer, r *reading) {
	it, err := cons.Messages(jetstream.PullMaxMessages(aggBatch),
		jetstream.PullExpiry(aggExpiry), jetstream.PullHeartbeat(aggHeartbeat))
	if err != nil {
		logOrDiscard(a.Logger).Warn("aggregator: subscribe", "err", err)
		sleep(ctx, time.Second)
		return
	}
	in, readErr, stop := readAll(it)
	defer stop()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		a.savePosition(sctx, r, true)
	}()
	check := time.NewTicker(min(r.quiet, aggQuiet) / 3)
	defer check.Stop()
	last, looked, probe := time.Now(), time.Time{}, aggQuiet
	for ctx.Err() == nil {
		var first jetstream.Msg
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			if time.Since(last) >= aggQuiet/3 {
				a.savePosition(ctx, r, true)
			}
			if time.Since(last) < r.quiet || time.Since(looked) < probe {
				continue
			}
			if a.behind(ctx, r) {
				return
			}
			looked, probe = time.Now(), min(2*probe, aggProbeMax)
			continue
		case m, ok := <-in:
			if !ok {
				logOrDiscard(a.Logger).Warn("aggregator: read", "err", <-readErr)
				sleep(ctx, time.Second)
				return
			}
			first = m
		}
		msgs := takeMore(in, first)
		for {
			err := a.apply(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			logOrDiscard(a.Logger).Warn("aggregator: apply", "err", err)
			sleep(ctx, time.Second)
		}
		last, probe = time.Now(), aggQuiet
		if md, err := msgs[len(msgs)-1].Metadata(); err == nil && md.Sequence.Stream > r.pos {
			r.pos, r.quiet = md.Sequence.Stream, aggQuiet
			a.savePosition(ctx, r, false)
		}
	}
}

// behind reports whether the results stream holds messages past r.pos, which
// the consumer has not delivered for r.quiet: then the caller starts a new
// consumer from r.pos (counting stays exact: a job's record skips results
// up to the last sequence counted into it). The stream's last sequence can
// also be ahead because results past the position were purged; the wait
// doubles so that such a stream costs a consumer every few minutes at most.
func (a *Aggregator) behind(ctx context.Context, r *reading) bool {
	s, err := a.Bus.JS.Stream(ctx, ResultsStream)
	if err != nil || s.CachedInfo().State.LastSeq <= r.pos {
		return false
	}
	if a.tailGone(ctx, r, s.CachedInfo().State.LastSeq) {
		return false
	}
	// The first time is the routine end of a lost pull (it happens under
	// load); again without a result between is worth a warning.
	level := slog.LevelDebug
	if r.quiet > aggQuiet {
		level = slog.LevelWarn
	}
	logOrDiscard(a.Logger).Log(ctx, level, "aggregator: nothing delivered while the stream is ahead; starting a new consumer",
		"position", r.pos, "last", s.CachedInfo().State.LastSeq, "quiet", r.quiet)
	r.quiet = min(2*r.quiet, aggQuietMax)
	return true
}

// tailGone reports whether no message is stored past r.pos up to last
// (the stream's last sequence, read before): a tail deleted or purged
// before it was counted (a copy another aggregator deleted, a deleted
// job's results). Then r.pos moves to last and is stored, so that the
// stream is not taken for ahead again. It asks the stream's leader, which
// the ordered consumer reads from: a lagging follower could answer none.
func (a *Aggregator) tailGone(ctx context.Context, r *reading, last uint64) bool {
	_, seq, _, err := a.Bus.leaderMsg(ctx, ResultsStream, map[string]any{"seq": r.pos + 1, "next_by_subj": "mv.result.*.*"})
	if err == nil && seq > r.pos && seq <= last {
		return false // one to deliver
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return false
	}
	r.pos, r.quiet = last, aggQuiet
	a.savePosition(ctx, r, true)
	return true
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
		index, ok := msgIndex(m.Headers())
		if !ok {
			index = -1
		}
		byJob[job] = append(byJob[job], applied{seq: md.Sequence.Stream, index: index, status: r.Status, reason: r.Reason})
	}
	for _, job := range order {
		// A later copy leaves the stream before the count moves past it
		// (the pages read up to the count).
		if err := a.classify(ctx, job, byJob[job]); err != nil {
			return err
		}
		for _, ap := range byJob[job] {
			if ap.copy {
				if err := a.Bus.dropCopy(ctx, ap.seq); err != nil {
					return err
				}
			}
		}
		var fresh []applied
		var finished bool
		apply := func(rec *record) bool {
			fresh, finished = fresh[:0], false
			for _, ap := range byJob[job] {
				if ap.seq > rec.Seq && !ap.copy {
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
		}
		_, err := a.Bus.update(ctx, job, apply)
		if errors.Is(err, ErrNotFound) {
			continue // expired or never stored
		}
		if err != nil {
			tried, done := slices.Clone(fresh), finished
			if a.settle(ctx, job, apply) {
				// fresh is empty where the update that failed here had
				// landed after all: what it counted is reported.
				if len(fresh) == 0 {
					fresh, finished = tried, done
				}
				a.report(job, fresh, finished)
			}
			return err
		}
		a.report(job, fresh, finished)
	}
	return nil
}

// report tells the hooks about the results an update counted, and that
// it finished the job.
func (a *Aggregator) report(job string, fresh []applied, finished bool) {
	if a.OnResult != nil {
		for _, ap := range fresh {
			a.OnResult(ap.status, ap.reason)
		}
	}
	if finished && a.OnDone != nil {
		a.OnDone(job)
	}
}

// settle makes sure of an update of job that returned an error (the
// aggregator stopped, or the answer timed out): that update may have
// landed, or may still land, being on its way. It applies again, past
// the caller's cancellation for a bounded time: the record's revision
// then moves, so the update on its way can no longer land (the store
// compares revisions), or shows the results counted already. It reports
// whether they are counted now. apply recomputes what is fresh.
func (a *Aggregator) settle(ctx context.Context, job string, apply func(*record) bool) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, err := a.Bus.update(cctx, job, apply)
	return err == nil
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
