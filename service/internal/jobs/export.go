package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Export calls each with every result of a job stored so far, in the
// order they were stored (as Results gives them), each entry once (the
// first stored: layout.go), reading the stream batch by batch: memory is
// a bit an entry. It stops at the first error of each.
func (b *Bus) Export(ctx context.Context, owner, id string, each func(result []byte) error) error {
	if _, err := b.Get(ctx, owner, id); err != nil {
		return err
	}
	cons, err := b.JS.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{jobResults(id)}, InactiveThreshold: 10 * time.Second})
	if err != nil {
		return err
	}
	// One continuous subscription: a Fetch on an ordered consumer makes
	// a new consumer on the server each time.
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return err
	}
	defer it.Stop()
	wait := time.Second // for the first: a job with no result yet has none to give
	var seen bitset
	var last uint64 // the sequence of the last result read
	var stalled time.Duration
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		m, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if last == 0 {
				return nil // no result yet
			}
			// The result the server counted as pending may be a later
			// copy the aggregator deleted since: nothing of the job
			// stored past the last read means the export is whole.
			more, err := b.firstSeq(ctx, jobResults(id), last+1)
			if err != nil {
				return err
			}
			if more == 0 {
				return nil
			}
			if stalled += wait; stalled >= exportStall {
				return errors.New("service: the results stopped coming before the last")
			}
			continue
		}
		if err != nil {
			return err
		}
		wait, stalled = exportWait, 0
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		last = md.Sequence.Stream
		// A later copy, not yet deleted by the aggregator, is skipped.
		if i, ok := msgIndex(m.Headers()); !ok || !seen.add(i) {
			if err := each(withIndex(m.Headers().Get(indexHeader), m.Headers().Get(refHeader), m.Data())); err != nil {
				return err
			}
		}
		if md.NumPending == 0 {
			return nil
		}
	}
}

// exportWait is how long a reader of a job's results waits for the next
// one the server said is pending before it asks whether one is still
// stored (a later copy may have been deleted since); exportStall is how
// long it waits in all for one that is.
const (
	exportWait  = 500 * time.Millisecond
	exportStall = 10 * time.Second
)
