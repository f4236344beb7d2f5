package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A Page is a run of a job's results, in the order they were stored.
// It holds the results the job's done count has counted: each entry
// once (a later copy of a result is deleted before it is counted past,
// layout.go), so a result stored a moment ago is on a later page.
type Page struct {
	// Results are JSON objects: the verify.Result of the CLI with the
	// input's position in the job first, as "index".
	Results [][]byte
	// Cursor is where the next page starts (pass it as after); More says
	// whether results were stored past this page when it was read.
	Cursor uint64
	More   bool
}

// ErrCursor is a cursor past the end of the results: not one the service
// gave.
var ErrCursor = errors.New("after is past the end of the results: pass a cursor from Mailverify-Cursor")

// Results returns up to limit results of a job stored after the cursor.
func (b *Bus) Results(ctx context.Context, owner, id string, after uint64, limit int) (*Page, error) {
	rec, _, err := b.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.Owner != owner {
		return nil, ErrNotFound
	}
	if after > 0 {
		st, err := b.JS.Stream(ctx, ResultsStream)
		if err != nil {
			return nil, err
		}
		if after > st.CachedInfo().State.LastSeq {
			return nil, ErrCursor
		}
	}
	p := &Page{Cursor: after}
	if after >= rec.Seq {
		// Nothing counted past the cursor yet: More if stored.
		next, err := b.firstSeq(ctx, jobResults(id), after+1)
		p.More = next != 0
		return p, err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{jobResults(id)}, InactiveThreshold: 10 * time.Second}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := b.JS.OrderedConsumer(ctx, ResultsStream, cfg)
	if err != nil {
		return nil, err
	}
	var seen bitset // a copy the count has not reached (from an older aggregator)
	past := false   // read past the count
	for len(p.Results) < limit && p.Cursor < rec.Seq && !past {
		batch, err := cons.FetchNoWait(min(limit-len(p.Results), 1000))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			n++
			if past = md.Sequence.Stream > rec.Seq; past {
				p.More = true
				continue // the rest of the batch is past it too
			}
			p.More = md.NumPending > 0
			p.Cursor = md.Sequence.Stream
			if i, ok := msgIndex(m.Headers()); ok && seen.add(i) {
				continue
			}
			p.Results = append(p.Results, withIndex(m.Headers().Get(indexHeader), m.Headers().Get(refHeader), m.Data()))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if n == 0 || !p.More {
			break
		}
	}
	return p, nil
}

// withIndex puts "index" (and "ref", when there is one) first in a
// result object.
func withIndex(index, ref string, result []byte) []byte {
	if _, err := strconv.Atoi(index); err != nil || len(result) < 2 || result[0] != '{' {
		return result
	}
	out := make([]byte, 0, len(result)+len(index)+len(ref)+20)
	out = append(out, `{"index":`...)
	out = append(out, index...)
	out = append(out, ',')
	if ref != "" {
		q, _ := json.Marshal(ref)
		out = append(out, `"ref":`...)
		out = append(out, q...)
		out = append(out, ',')
	}
	return append(out, result[1:]...)
}

// A Depth is the backlog of one partition.
type Depth struct{ Pending, InFlight uint64 }

// Depths returns the backlog of each partition that answered, by its
// name: "7" for a numbered one, "google-3" for a provider's.
func (b *Bus) Depths(ctx context.Context) map[string]Depth {
	out := map[string]Depth{}
	names, err := b.workConsumers(ctx)
	if err != nil {
		return out
	}
	for _, name := range names {
		c, err := b.JS.Consumer(ctx, WorkStream, name)
		if err != nil {
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			continue
		}
		out[strings.TrimPrefix(name, "part-")] = Depth{Pending: info.NumPending, InFlight: uint64(info.NumAckPending)}
	}
	return out
}
