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
)

// How results are laid out in MV_RESULTS.
//
// A job's results share one subject per block of resultBlock entries,
// mv.result.<job>.b<block>, and carry their entry in the Mv-Index header.
// Until 2026-12 every result had a subject of its own,
// mv.result.<job>.<index>, published expecting the subject empty, which
// kept each result single; but the server holds an index entry in memory
// per subject, about 130 bytes a result (130 MB of a process's resident
// set at a million results). Blocks bound that to a few entries a job.
//
// A result can now be stored twice: a worker whose acknowledgement from
// the stream was lost (it or its server died) has its task delivered
// again, and the janitor stores a dead letter's result while a late worker
// may store one too. The first stored wins, as the expectation made it
// before: a reader counts an entry once, at its lowest sequence, and all
// of an entry's results are on one subject, so a block read alone can
// tell. The aggregator, which reads the stream in order, deletes every
// later copy from the stream before it counts past it; so the results of
// a job up to its record's Seq hold each entry once, which is what the
// result pages read (results.go). Export reads a whole job and keeps its
// own set of the entries seen.
//
// Results of the old layout stay readable: every reader matches
// mv.result.<job>.* and takes the entry from the header, which both
// layouts carry; the file download asks the old subjects for every entry
// too and keeps the lower sequence (a rolling upgrade can store an entry
// in each layout).
const resultBlock = 256

// resultSubject is the subject of a job's entry i.
func resultSubject(job string, i int) string {
	return "mv.result." + job + ".b" + strconv.Itoa(i/resultBlock)
}

// blockSubject is the subject of a job's block k.
func blockSubject(job string, k int) string { return "mv.result." + job + ".b" + strconv.Itoa(k) }

// entrySubject is the old layout's subject of a job's entry i.
func entrySubject(job string, i int) string { return fmt.Sprintf("mv.result.%s.%d", job, i) }

// jobResults matches every result of a job, in either layout.
func jobResults(job string) string { return "mv.result." + job + ".*" }

// maxEntries bounds the entries a reader keeps a bit for (32 MB of
// bits); a result with a larger entry is read as one without an entry.
// An upload of --max-body (64 MB) has about 10 million.
const maxEntries = 1 << 28

// msgIndex is the entry a stored result is for, from its header; false
// for a message without one.
func msgIndex(h nats.Header) (int, bool) {
	i, err := strconv.Atoi(h.Get(indexHeader))
	return i, err == nil && i >= 0 && i < maxEntries
}

// A bitset is a set of entries: 125 KB for a million.
type bitset []uint64

// add adds i and reports whether it was there already.
func (s *bitset) add(i int) bool {
	w := i / 64
	if w >= len(*s) {
		*s = append(*s, make([]uint64, w+1-len(*s))...)
	}
	m := uint64(1) << (i % 64)
	had := (*s)[w]&m != 0
	(*s)[w] |= m
	return had
}

// firstSeq is the sequence of the first message on subject (wildcards
// allowed) from sequence from on; 0 when there is none. In a cluster the
// stream's leader answers: a follower that has not applied the latest
// results would answer none, and a rebuild would then take a later copy
// for the first, an export or a page end early.
func (b *Bus) firstSeq(ctx context.Context, subject string, from uint64) (uint64, error) {
	if b.replicas() > 1 {
		_, seq, _, err := b.leaderMsg(ctx, ResultsStream, map[string]any{"seq": from, "next_by_subj": subject})
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, nil
		}
		return seq, err
	}
	req, _ := json.Marshal(map[string]any{"seq": from, "next_by_subj": subject})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := b.NC.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+ResultsStream, req)
	if err != nil {
		return 0, err
	}
	if st := m.Header.Get("Status"); st == "404" {
		return 0, nil
	} else if st != "" {
		return 0, fmt.Errorf("jobs: direct get: %s %s", st, m.Header.Get("Description"))
	}
	return strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
}
