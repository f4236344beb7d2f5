package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// TestCopyAfterRestart: a later copy of a result (a task redelivered after
// its first store went unacknowledged) reaches an aggregator that did not
// see the original (a new process, reading from the stored position): the
// aggregator rebuilds the job's entries from the stream, deletes the copy
// and counts nothing more; pages, export and the download read each entry
// once, the first result.
func TestCopyAfterRestart(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx := context.Background()
	const n = 700 // three blocks
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%d@example.com", i)
	}
	j, err := b.Submit(ctx, Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	aggregate := func() (stop func()) {
		actx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = (&Aggregator{Bus: b}).Run(actx) })
		return func() { cancel(); wg.Wait() }
	}
	stop := aggregate()
	for i, a := range addrs {
		if _, err := b.storeResult(ctx, task{Job: j.ID, Index: i}, verify.Result{Input: a, Status: verify.Deliverable, Reason: verify.ReasonAccepted}); err != nil {
			t.Fatal(err)
		}
	}
	waitDone(t, b, j.ID, 30*time.Second)
	stop()
	for i := 0; i < n; i += 50 {
		if _, err := b.storeResult(ctx, task{Job: j.ID, Index: i}, verify.Result{Input: addrs[i], Status: verify.Unknown}); err != nil {
			t.Fatal(err)
		}
	}
	stop = aggregate()
	defer stop()
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	last := s.CachedInfo().State.LastSeq
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		e, err := b.State.Get(ctx, positionKey)
		if err == nil && string(e.Value()) == fmt.Sprint(last) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the aggregator did not reach %d", last)
		}
	}
	got, err := b.Get(ctx, "", j.ID)
	if err != nil || got.Done != n || got.Counts["deliverable"] != n || len(got.Counts) != 1 {
		t.Fatalf("job %+v, %v; want %d deliverable", got, err, n)
	}
	checkOnce(t, b, j.ID, n)
}

// TestRebuildDeletesCopies: the entries rebuilt from the stream count each
// entry once, and the later copies met on the way (left by a crash between
// a count and its deletion) leave the stream.
func TestRebuildDeletesCopies(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx := context.Background()
	const job = "0123456789abcdef01234567"
	store := func(i int, st verify.Status) {
		if _, err := b.storeResult(ctx, task{Job: job, Index: i}, verify.Result{Input: "a@example.com", Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 600 {
		store(i, verify.Deliverable)
		if i%100 == 7 {
			store(i-7, verify.Unknown) // a copy of an earlier entry
		}
	}
	store(5, verify.Unknown)
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	last := s.CachedInfo().State.LastSeq
	seen, err := (&Aggregator{Bus: b}).rebuild(ctx, job, last+1)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for i := range 700 {
		if i < len(seen.bits)*64 && seen.bits[i/64]&(1<<(i%64)) != 0 {
			count++
		}
	}
	if count != 600 || seen.upTo != last {
		t.Errorf("rebuilt %d entries up to %d; want 600 up to %d", count, seen.upTo, last)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 600 {
		t.Errorf("the stream holds %d results; want 600 (7 copies deleted)", info.State.Msgs)
	}
	res, err := b.ResultsBatch(ctx, job, []int{0, 5, 100, 599})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r == nil || !strings.Contains(string(r), `"deliverable"`) {
			t.Errorf("result %d: %s; want the first stored, deliverable", i, r)
		}
	}
}
