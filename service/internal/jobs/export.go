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
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		m, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if wait == time.Second {
				return nil // no result yet
			}
			return errors.New("service: the results stopped coming before the last")
		}
		if err != nil {
			return err
		}
		wait = 10 * time.Second
		md, err := m.Metadata()
		if err != nil {
			continue
		}
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
