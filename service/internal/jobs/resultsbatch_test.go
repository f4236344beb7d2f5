package jobs

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
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
	// job and other store by block; old is a job of the old layout, a
	// subject per entry (layout.go).
	const job, other, old = "0123456789abcdef01234567", "fedcba9876543210fedcba98", "00112233445566778899aabb"
	for _, id := range []string{job, other, old} {
		if err := b.putNew(ctx, &record{Job: Job{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(id string, i int, data string) {
		subj := resultSubject(id, i)
		if id == old {
			subj = entrySubject(id, i)
		}
		m := nats.NewMsg(subj)
		m.Header.Set(indexHeader, strconv.Itoa(i))
		m.Data = []byte(data)
		if _, err := b.JS.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2500 {
		if i%7 == 3 {
			continue // not done
		}
		for _, id := range []string{job, other, old} {
			publish(id, i, fmt.Sprintf(`{"input":"%s-%d"}`, id, i))
		}
		if i%500 == 499 {
			<-b.JS.PublishAsyncComplete() // at most 4,000 may be outstanding
		}
	}
	// Later copies (a redelivered task) are not the result.
	for i := 0; i < 2500; i += 13 {
		if i%7 != 3 {
			publish(job, i, `{"input":"copy"}`)
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
	for _, id := range []string{job, old} {
		got, err := b.ResultsBatch(ctx, id, want)
		if err != nil {
			t.Fatal(err)
		}
		each, err := b.ResultsAt(ctx, id, want)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d results for %d entries", len(got), len(want))
		}
		for i, idx := range want {
			var exp string
			if idx < 2500 && idx%7 != 3 {
				exp = fmt.Sprintf(`{"input":"%s-%d"}`, id, idx)
			}
			if string(got[i]) != exp || string(each[i]) != exp {
				t.Fatalf("job %s entry %d: batched %q, one by one %q; want %q", id, idx, got[i], each[i], exp)
			}
		}
	}
	if got, err := b.ResultsBatch(ctx, "00000000000000000000000f", []int{0, 1}); err != nil || got[0] != nil || got[1] != nil {
		t.Errorf("a job without results: %q, %v", got, err)
	}
}
