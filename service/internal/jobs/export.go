package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Export calls each with every result of a job stored so far, in the
// order they were stored (as Results gives them), reading the stream
// batch by batch: memory does not grow with the job. It stops at the
// first error of each.
func (b *Bus) Export(ctx context.Context, owner, id string, each func(result []byte) error) error {
	if _, err := b.Get(ctx, owner, id); err != nil {
		return err
	}
	cons, err := b.JS.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"mv.result." + id + ".*"}, InactiveThreshold: 10 * time.Second})
	if err != nil {
		return err
	}
	for {
		batch, err := cons.FetchNoWait(1000)
		if err != nil {
			return err
		}
		n, more := 0, false
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			n++
			more = md.NumPending > 0
			if err := each(withIndex(m.Headers().Get(indexHeader), m.Headers().Get(refHeader), m.Data())); err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return err
		}
		if n == 0 || !more {
			return nil
		}
	}
}
