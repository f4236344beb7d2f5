package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// multiGetMax is the most subjects one batched get asks for: the server
// answers at most 1,024 messages to one.
const multiGetMax = 1000

// ResultsBatch returns the stored results of entries of a job (nil for
// one not done), like ResultsAt, in one request per 1,000 entries: a
// batched direct get of the last message on each entry's subject, which
// the server streams back in one go (ResultsAt asks for each entry on
// its own, one round trip each). Memory is what the entries asked for
// hold. A stream without direct gets is read as ResultsAt does.
//
// Direct gets are answered by any replica; in a cluster a follower may
// not have applied the latest results yet, so an entry not found is asked
// of the stream's leader, which answers with what the quorum stored.
func (b *Bus) ResultsBatch(ctx context.Context, id string, indexes []int) ([][]byte, error) {
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		return nil, err
	}
	if !s.CachedInfo().Config.AllowDirect {
		return b.ResultsAt(ctx, id, indexes)
	}
	out := make([][]byte, len(indexes))
	for start := 0; start < len(indexes); start += multiGetMax {
		part := indexes[start:min(start+multiGetMax, len(indexes))]
		if err := b.multiGet(ctx, id, part, out[start:]); err != nil {
			return nil, err
		}
	}
	if b.replicas() > 1 {
		// Most entries of a running job are missing: ask the leader for
		// them 8 at a time, as ResultsAt asks, not one after another.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i, idx := range indexes {
			if out[i] != nil {
				continue
			}
			g.Go(func() error {
				data, _, _, err := b.leaderLast(gctx, ResultsStream, resultSubject(id, idx))
				switch {
				case errors.Is(err, jetstream.ErrKeyNotFound):
				case err != nil:
					return err
				default:
					out[i] = data
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// multiGet asks for the last message of each entry's subject in one
// direct get and puts each entry's data at its place in out.
func (b *Bus) multiGet(ctx context.Context, id string, indexes []int, out [][]byte) error {
	at := make(map[string][]int, len(indexes))
	subjects := make([]string, 0, len(indexes))
	for i, idx := range indexes {
		subj := resultSubject(id, idx)
		if _, ok := at[subj]; !ok {
			subjects = append(subjects, subj)
		}
		at[subj] = append(at[subj], i)
	}
	req, err := json.Marshal(map[string]any{"multi_last": subjects})
	if err != nil {
		return err
	}
	inbox := nats.NewInbox()
	sub, err := b.NC.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.NC.PublishRequest("$JS.API.DIRECT.GET."+ResultsStream, inbox, req); err != nil {
		return err
	}
	for {
		// Each message has its own time: a long answer is not cut off.
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := sub.NextMsgWithContext(mctx)
		cancel()
		if err != nil {
			return fmt.Errorf("jobs: batched get of results: %w", err)
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch st := m.Header.Get("Status"); st {
			case "204": // the end
				return nil
			case "404":
				if m.Header.Get("Description") == "No Results" { // none of them stored
					return nil
				}
				return fmt.Errorf("jobs: batched get of results: %s %s", st, m.Header.Get("Description"))
			default:
				return fmt.Errorf("jobs: batched get of results: %s %s", st, m.Header.Get("Description"))
			}
		}
		for _, i := range at[m.Header.Get(jetstream.SubjectHeader)] {
			out[i] = m.Data
		}
	}
}
