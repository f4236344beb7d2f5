package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// multiGetMax is the most subjects one batched get asks for: the server
// answers at most 1,024 messages to one.
const multiGetMax = 1000

// ResultsBatch returns the stored results of entries of a job (nil for
// one not done), the first stored of each (layout.go): one batched direct
// get per block of entries asked for, which the server streams back in one
// go (ResultsAt asks the stream's leader for each message on its own).
// Memory is what the blocks asked for hold. A stream without direct gets
// is read as ResultsAt does.
//
// Direct gets are answered by any replica; in a cluster a follower may
// not have applied the latest results yet, so a block with an entry not
// found is asked of the stream's leader, which answers with what the
// quorum stored.
func (b *Bus) ResultsBatch(ctx context.Context, id string, indexes []int) ([][]byte, error) {
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		return nil, err
	}
	if !s.CachedInfo().Config.AllowDirect {
		return b.ResultsAt(ctx, id, indexes)
	}
	return b.resultsOf(ctx, id, indexes, true)
}

// ResultsAt returns the stored results of entries of a job (nil for one
// not done), the first stored of each, asking the stream's leader for one
// message at a time.
func (b *Bus) ResultsAt(ctx context.Context, id string, indexes []int) ([][]byte, error) {
	return b.resultsOf(ctx, id, indexes, false)
}

func (b *Bus) resultsOf(ctx context.Context, id string, indexes []int, direct bool) ([][]byte, error) {
	var err error
	out := make([][]byte, len(indexes))
	want := map[int][]int{} // by block: positions in indexes
	var blocks []int
	for i, idx := range indexes {
		k := idx / resultBlock
		if _, ok := want[k]; !ok {
			blocks = append(blocks, k)
		}
		want[k] = append(want[k], i)
	}
	seqs := make([]uint64, len(indexes)) // of the results in out
	for _, k := range blocks {
		got := make(map[int]storedResult, resultBlock)
		if direct {
			err = b.blockDirect(ctx, blockSubject(id, k), got)
		} else {
			err = b.blockLeader(ctx, blockSubject(id, k), got)
		}
		if err != nil {
			return nil, err
		}
		missing := false
		for _, i := range want[k] {
			out[i], seqs[i] = got[indexes[i]].data, got[indexes[i]].seq
			missing = missing || out[i] == nil
		}
		if missing && direct && b.replicas() > 1 {
			behind, err := b.followerBehind(ctx, blockSubject(id, k), got)
			if err != nil {
				return nil, err
			}
			if !behind {
				continue
			}
			clear(got)
			if err := b.blockLeader(ctx, blockSubject(id, k), got); err != nil {
				return nil, err
			}
			for _, i := range want[k] {
				out[i], seqs[i] = got[indexes[i]].data, got[indexes[i]].seq
			}
		}
	}
	// A job may hold results of the old layout: stored before an
	// upgrade, or by a worker not yet upgraded.
	return out, b.entriesOld(ctx, id, indexes, found{out, seqs}, direct)
}

// A storedResult is a result as stored: its data and sequence.
type storedResult struct {
	data []byte
	seq  uint64
}

// found is what a read of a job's results has found so far: the result
// of each entry asked for (nil for none) and its sequence.
type found struct {
	out  [][]byte
	seqs []uint64
}

// keep puts the result at sequence seq at position i unless one stored
// before it is there: the first stored wins.
func (f found) keep(i int, data []byte, seq uint64) {
	if f.out[i] == nil || seq < f.seqs[i] {
		f.out[i], f.seqs[i] = data, seq
	}
}

// blockDirect reads the results on subject, the first of each entry into
// got, in batched direct gets.
func (b *Bus) blockDirect(ctx context.Context, subject string, got map[int]storedResult) error {
	for from := uint64(1); ; {
		req, err := json.Marshal(map[string]any{"seq": from, "next_by_subj": subject, "batch": 4 * resultBlock})
		if err != nil {
			return err
		}
		end, err := b.directBatch(ctx, req, func(m *nats.Msg) {
			if i, ok := msgIndex(m.Header); ok && got[i].data == nil {
				got[i] = storedResult{m.Data, msgSeq(m)}
			}
		})
		if err != nil || !end.more {
			return err
		}
		from = end.last + 1
	}
}

// msgSeq is the stream sequence of a message a direct get answered.
func msgSeq(m *nats.Msg) uint64 {
	seq, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	return seq
}

// A batchEnd is how a batched direct get ended: the last sequence given,
// whether more were left, and for a multi_last get the sequence the
// replica that answered had stored up to (zero when nothing matched).
type batchEnd struct {
	last, upTo uint64
	more       bool
}

// directBatch sends a batched direct get and gives each message to each.
func (b *Bus) directBatch(ctx context.Context, req []byte, each func(*nats.Msg)) (batchEnd, error) {
	var end batchEnd
	inbox := nats.NewInbox()
	sub, err := b.NC.SubscribeSync(inbox)
	if err != nil {
		return end, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.NC.PublishRequest("$JS.API.DIRECT.GET."+ResultsStream, inbox, req); err != nil {
		return end, err
	}
	for {
		// Each message has its own time: a long answer is not cut off.
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := sub.NextMsgWithContext(mctx)
		cancel()
		if err != nil {
			return end, fmt.Errorf("jobs: batched get of results: %w", err)
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch st := m.Header.Get("Status"); st {
			case "204": // the end
				end.more = m.Header.Get("Nats-Num-Pending") != "0" && end.last > 0
				end.upTo, _ = strconv.ParseUint(m.Header.Get("Nats-UpTo-Sequence"), 10, 64)
				return end, nil
			case "404": // none
				return end, nil
			default:
				return end, fmt.Errorf("jobs: batched get of results: %s %s", st, m.Header.Get("Description"))
			}
		}
		if seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64); err == nil {
			end.last = seq
		}
		each(m)
	}
}

// followerBehind reports whether the stream's leader holds a result on a
// block's subject past those a direct read gave (got): then the replica
// that answered had not applied it yet. One request; a replica that gave
// the leader's last had applied everything before it.
func (b *Bus) followerBehind(ctx context.Context, subject string, got map[int]storedResult) (bool, error) {
	_, last, _, err := b.leaderLast(ctx, ResultsStream, subject)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, r := range got {
		if r.seq >= last {
			return false, nil
		}
	}
	return true, nil
}

// blockLeader reads the results on subject, the first of each entry into
// got, asking the stream's leader for one message after another.
func (b *Bus) blockLeader(ctx context.Context, subject string, got map[int]storedResult) error {
	for from := uint64(1); ; {
		data, seq, hdrs, err := b.leaderMsg(ctx, ResultsStream, map[string]any{"seq": from, "next_by_subj": subject})
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if i, ok := rawIndex(hdrs); ok && got[i].data == nil {
			got[i] = storedResult{data, seq}
		}
		from = seq + 1
	}
}

// entriesOld reads the old layout's subjects, one an entry (layout.go).
// It asks for every entry (a rolling upgrade can leave an entry a result
// in each layout, and the first stored wins): direct, in batched gets;
// else of the leader, one get an entry.
//
// In a cluster the replica that answers a batched get may lag: the
// stream's leader is asked first for the job's last result, and a batch
// is complete when its replica had stored up to that one (the batch also
// asks for that result's subject, so that its answer says how far the
// replica had stored even when no entry has an old-layout result). Only
// the entries of a batch from a replica behind are asked of the leader,
// one by one.
func (b *Bus) entriesOld(ctx context.Context, id string, indexes []int, f found, direct bool) error {
	var ask []int
	if direct {
		var lead *leaderAnswer // the job's last result, at the leader
		if b.replicas() > 1 {
			var err error
			lead, err = b.leaderStored(ctx, ResultsStream, map[string]any{"last_by_subj": jobResults(id)})
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return nil // nothing of the job is stored
			}
			if err != nil {
				return err
			}
		}
		for start := 0; start < len(indexes); start += multiGetMax {
			end := min(start+multiGetMax, len(indexes))
			upTo, err := b.multiGet(ctx, id, indexes[start:end], found{f.out[start:end], f.seqs[start:end]}, lead)
			if err != nil {
				return err
			}
			for i := start; lead != nil && upTo < lead.Seq && i < end; i++ {
				if f.out[i] == nil {
					ask = append(ask, i)
				}
			}
		}
	} else {
		ask = make([]int, len(indexes))
		for i := range ask {
			ask[i] = i
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, i := range ask {
		g.Go(func() error {
			data, seq, _, err := b.leaderLast(gctx, ResultsStream, entrySubject(id, indexes[i]))
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				f.keep(i, data, seq)
			}
			return nil
		})
	}
	return g.Wait()
}

// multiGet asks for the last message of the old layout's subject of each
// of indexes in one direct get, and of lead's subject when lead is not
// nil, and keeps each entry's data at its place in f unless one stored
// before is there. It returns the sequence the replica that answered had
// stored up to (zero when it had none of the subjects).
func (b *Bus) multiGet(ctx context.Context, id string, indexes []int, f found, lead *leaderAnswer) (uint64, error) {
	at := make(map[string][]int, len(indexes))
	subjects := make([]string, 0, len(indexes)+1)
	for i, idx := range indexes {
		subj := entrySubject(id, idx)
		if _, ok := at[subj]; !ok {
			subjects = append(subjects, subj)
		}
		at[subj] = append(at[subj], i)
	}
	if lead != nil {
		if _, ok := at[lead.Subject]; !ok {
			subjects = append(subjects, lead.Subject)
		}
	}
	req, err := json.Marshal(map[string]any{"multi_last": subjects})
	if err != nil {
		return 0, err
	}
	end, err := b.directBatch(ctx, req, func(m *nats.Msg) {
		for _, i := range at[m.Header.Get(jetstream.SubjectHeader)] {
			f.keep(i, m.Data, msgSeq(m))
		}
	})
	return end.upTo, err
}
