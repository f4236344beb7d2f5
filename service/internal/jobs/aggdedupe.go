package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// jobSeen is what an aggregator knows of a job's entries: bits holds the
// entry of each result of the job stored up to sequence upTo.
type jobSeen struct {
	bits bitset
	upTo uint64
	used time.Time
}

// seenKeep is how long an aggregator keeps a job's entries after it last
// read a result of the job; a result read later rebuilds them.
const seenKeep = 2 * time.Minute

// seen returns the entries of job stored before sequence seq. They come
// from the aggregator's memory while it has read the job's results in
// order up to seq; otherwise (a new job, a restart, a result read again)
// from the stream: the job's results before seq, headers only.
func (a *Aggregator) seen(ctx context.Context, job string, seq uint64) (*jobSeen, error) {
	if a.jobs == nil {
		a.jobs = map[string]*jobSeen{}
	}
	now := time.Now()
	if now.Sub(a.swept) > seenKeep/2 {
		a.swept = now
		for id, s := range a.jobs {
			if now.Sub(s.used) > seenKeep {
				delete(a.jobs, id)
			}
		}
	}
	if s := a.jobs[job]; s != nil && s.upTo < seq {
		s.used = now
		return s, nil
	}
	s, err := a.rebuild(ctx, job, seq)
	if err != nil {
		delete(a.jobs, job)
		return nil, err
	}
	s.used = now
	a.jobs[job] = s
	return s, nil
}

// rebuild reads the entries of job's results stored before sequence
// before, and deletes the later copies it meets (left by a crash between
// their deletion and the count).
func (a *Aggregator) rebuild(ctx context.Context, job string, before uint64) (*jobSeen, error) {
	s := &jobSeen{upTo: before - 1}
	first, err := a.Bus.firstSeq(ctx, jobResults(job), 1)
	if err != nil || first == 0 || first >= before {
		return s, err
	}
	cons, err := a.Bus.JS.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{jobResults(job)}, HeadersOnly: true, InactiveThreshold: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	last := first - 1 // the sequence of the last result read
	var stalled time.Duration
	for {
		nctx, cancel := context.WithTimeout(ctx, exportWait)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// The result pending may be one another aggregator deleted
			// since: none of the job's left before before is the end.
			more, err := a.Bus.firstSeq(ctx, jobResults(job), last+1)
			if err != nil {
				return nil, err
			}
			if more == 0 || more >= before {
				return s, nil
			}
			if stalled += exportWait; stalled >= exportStall {
				return nil, errors.New("jobs: the results of a job stopped coming before the last")
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		stalled = 0
		md, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		last = md.Sequence.Stream
		if md.Sequence.Stream >= before {
			return s, nil
		}
		if i, ok := msgIndex(m.Headers()); ok && s.bits.add(i) {
			if err := a.Bus.dropCopy(ctx, md.Sequence.Stream); err != nil {
				return nil, err
			}
		}
		if md.NumPending == 0 {
			return s, nil
		}
	}
}

// classify marks the later copies among a job's results just read (in
// the order of the stream), which the caller deletes and does not count.
func (a *Aggregator) classify(ctx context.Context, job string, aps []applied) error {
	s, err := a.seen(ctx, job, aps[0].seq)
	if err != nil {
		return err
	}
	for k := range aps {
		if aps[k].index >= 0 {
			aps[k].copy = s.bits.add(aps[k].index)
		}
		s.upTo = aps[k].seq
	}
	return nil
}

// dropCopy deletes a later copy of a result from the stream; one already
// gone is fine.
func (b *Bus) dropCopy(ctx context.Context, seq uint64) error {
	st, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		return err
	}
	err = st.DeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	if _, gerr := st.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return nil
	}
	return err
}
