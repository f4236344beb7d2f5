package jobs

import (
	"fmt"
	"testing"
)

// TestResultsBatch: the batched get gives what one get per entry gives,
// over several requests (more than 1,000 entries), with entries asked for
// twice, entries never stored (nil) and another job's results beside.
func TestResultsBatch(t *testing.T) {
	b := openBus(t, Config{})
	defer b.Close()
	checkResultsBatch(t, b)
}

// TestResultsBatchCluster: the same on three replicas, read right after
// the writes (a follower that has not applied them yet is made up for by
// the leader).
func TestResultsBatchCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	servers := startCluster(t, 3)
	b := openBus(t, Config{URL: servers[0].ClientURL(), Replicas: 3, Partitions: 2})
	defer b.Close()
	checkResultsBatch(t, b)
}

func checkResultsBatch(t *testing.T, b *Bus) {
	ctx := t.Context()
	const job, other = "0123456789abcdef01234567", "fedcba9876543210fedcba98"
	for i := range 2500 {
		if i%7 == 3 {
			continue // not done
		}
		for _, id := range []string{job, other} {
			if _, err := b.JS.PublishAsync(resultSubject(id, i), fmt.Appendf(nil, `{"input":"%s-%d"}`, id, i)); err != nil {
				t.Fatal(err)
			}
		}
		if i%500 == 499 {
			<-b.JS.PublishAsyncComplete() // at most 4,000 may be outstanding
		}
	}
	<-b.JS.PublishAsyncComplete()
	var want []int
	for i := range 2600 {
		want = append(want, i)
		if i%100 == 0 {
			want = append(want, i/2) // asked for twice
		}
	}
	got, err := b.ResultsBatch(ctx, job, want)
	if err != nil {
		t.Fatal(err)
	}
	each, err := b.ResultsAt(ctx, job, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d results for %d entries", len(got), len(want))
	}
	for i, idx := range want {
		var exp string
		if idx < 2500 && idx%7 != 3 {
			exp = fmt.Sprintf(`{"input":"%s-%d"}`, job, idx)
		}
		if string(got[i]) != exp || string(each[i]) != exp {
			t.Fatalf("entry %d: batched %q, one by one %q; want %q", idx, got[i], each[i], exp)
		}
	}
	if got, err := b.ResultsBatch(ctx, "00000000000000000000000f", []int{0, 1}); err != nil || got[0] != nil || got[1] != nil {
		t.Errorf("a job without results: %q, %v", got, err)
	}
}
