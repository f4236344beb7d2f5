package jobs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// TestReviewMemDeadLetterFirstWins: a dead letter's unknown is stored,
// then a late worker's deliverable for the same entry. The first stored
// wins everywhere (pages, export, both downloads, the counts and what
// OnResult saw), before and after an aggregator that rereads the stream.
func TestReviewMemDeadLetterFirstWins(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	const n = 600
	j, _ := revJob(t, b, n)
	var mu sync.Mutex
	seen := map[string]int{}
	stop := revAggregator(b, &Aggregator{OnResult: func(status, _ string) {
		mu.Lock()
		seen[status]++
		mu.Unlock()
	}})
	want := func(i int) string {
		if i%50 == 0 || i == 255 || i == 256 {
			return "unknown"
		}
		return "deliverable"
	}
	for i := range n {
		if want(i) == "unknown" {
			revStore(t, b, j.ID, i, verify.Unknown) // the dead letter
		}
		revStore(t, b, j.ID, i, verify.Deliverable) // the late worker
	}
	waitDone(t, b, j.ID, 30*time.Second)
	revWaitPosition(t, b)
	stop()
	revCheck(t, b, j.ID, n, want)
	mu.Lock()
	if seen["unknown"] != 14 || seen["deliverable"] != n-14 {
		t.Errorf("OnResult saw %v; want 14 unknown, %d deliverable", seen, n-14)
	}
	mu.Unlock()
	// Another late copy after done, and an aggregator from the start.
	revStore(t, b, j.ID, 0, verify.Deliverable)
	if _, err := b.State.Put(context.Background(), positionKey, []byte("0")); err != nil {
		t.Fatal(err)
	}
	stop = revAggregator(b, nil)
	revWaitPosition(t, b)
	stop()
	revCheck(t, b, j.ID, n, want)
}

// TestReviewMemBlockEdges: jobs of 1, 255, 256, 257 and 513 entries, with
// copies on each side of a block boundary, and the aggregator restarted
// in the middle of a block (a fresh one, rebuilding), each reach done
// with every entry once.
func TestReviewMemBlockEdges(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	for _, n := range []int{1, 255, 256, 257, 513} {
		j, _ := revJob(t, b, n)
		copies := map[int]bool{0: true, n - 1: true, 254: true, 255: true, 256: true, 511: true, 512: true}
		stop := revAggregator(b, nil)
		half := n / 2
		for i := range half {
			revStore(t, b, j.ID, i, verify.Deliverable)
		}
		revWaitPosition(t, b)
		stop()
		// Copies of entries stored before the restart, then the rest.
		for i := range half {
			if copies[i] {
				revStore(t, b, j.ID, i, verify.Unknown)
			}
		}
		stop = revAggregator(b, nil)
		for i := half; i < n; i++ {
			revStore(t, b, j.ID, i, verify.Deliverable)
			if copies[i] {
				revStore(t, b, j.ID, i, verify.Unknown)
			}
		}
		waitDone(t, b, j.ID, 30*time.Second)
		revWaitPosition(t, b)
		stop()
		revCheck(t, b, j.ID, n, func(int) string { return "deliverable" })
	}
}

// TestReviewMemOldLayoutJob: a job stored entirely by the previous code
// (a subject per entry), read by this one: counted to done, then read
// once each by every reader; the aggregator restarted from 0 counts
// nothing more.
func TestReviewMemOldLayoutJob(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	const n = 300
	j, _ := revJob(t, b, n)
	stop := revAggregator(b, nil)
	for i := range n {
		revStoreOld(t, b, j.ID, i, verify.Deliverable)
	}
	waitDone(t, b, j.ID, 30*time.Second)
	revWaitPosition(t, b)
	stop()
	revCheck(t, b, j.ID, n, func(int) string { return "deliverable" })
	if _, err := b.State.Put(context.Background(), positionKey, []byte("0")); err != nil {
		t.Fatal(err)
	}
	stop = revAggregator(b, nil)
	revWaitPosition(t, b)
	stop()
	revCheck(t, b, j.ID, n, func(int) string { return "deliverable" })
}

// TestReviewMemMixedLayoutFirstWins: a rolling upgrade, as the runbook
// allows (serve first, then workers): a worker not yet upgraded stores
// entry results in the old layout, then a redelivery (or the janitor's
// dead letter) stores a later copy in blocks. Every reader must show the
// first stored, whether or not the aggregator has deleted the copy yet
// (it lags: a restart's rebuild, a loaded machine).
func TestReviewMemMixedLayoutFirstWins(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	const n = 40
	j, _ := revJob(t, b, n)
	for i := range n {
		revStoreOld(t, b, j.ID, i, verify.Deliverable) // the old worker
		if i%4 == 0 {
			revStore(t, b, j.ID, i, verify.Unknown) // a later copy, new layout
		}
	}
	// The aggregator has not read them yet: export already reads the
	// first stored; the download must agree.
	exp := revExport(t, b, j.ID)
	batched, each := revDownload(t, b, j.ID, n)
	for i := 0; i < n; i += 4 {
		if exp.status[i] != "deliverable" || batched[i] != exp.status[i] || each[i] != exp.status[i] {
			t.Errorf("entry %d before the aggregator: export %q, ResultsBatch %q, ResultsAt %q; want the first stored, deliverable",
				i, exp.status[i], batched[i], each[i])
		}
	}
	stop := revAggregator(b, nil)
	waitDone(t, b, j.ID, 30*time.Second)
	revWaitPosition(t, b)
	stop()
	revCheck(t, b, j.ID, n, func(int) string { return "deliverable" })
}

// TestReviewMemDeletedMidRun: a job deleted while its results arrive
// (the aggregator holds its entries) does not disturb another job running
// beside it: that one reaches done with each entry once.
func TestReviewMemDeletedMidRun(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx := context.Background()
	const n = 600
	gone, _ := revJob(t, b, n)
	kept, _ := revJob(t, b, n)
	stop := revAggregator(b, nil)
	defer stop()
	for i := range n {
		revStore(t, b, gone.ID, i, verify.Deliverable)
		revStore(t, b, kept.ID, i, verify.Deliverable)
		if i == 300 {
			if err := b.Delete(ctx, "", gone.ID); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 0 {
			revStore(t, b, kept.ID, i/3, verify.Unknown)
		}
	}
	waitDone(t, b, kept.ID, 30*time.Second)
	revWaitPosition(t, b)
	revCheck(t, b, kept.ID, n, func(int) string { return "deliverable" })
	if _, err := b.Get(ctx, "", gone.ID); err == nil {
		t.Errorf("the deleted job is still there")
	}
}
