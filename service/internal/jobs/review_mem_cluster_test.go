package jobs

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go"
)

// TestReviewMemClusterDownloadOfARunningJob: the file download of a job
// still running (the API allows it) on three replicas. Entries not done
// yet are missing from their blocks; a block is walked on the stream's
// leader (one request a message) only when the leader holds a result of
// the block past what the direct answer gave, which one request a block
// tells. Each missing entry is still asked of the leader on the old
// layout's subject (a follower may lag on those too), as before results
// by block: at most one request a missing entry and one a block.
func TestReviewMemClusterDownloadOfARunningJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	servers := startCluster(t, 3)
	b := openBus(t, Config{URL: servers[0].ClientURL(), Replicas: 3, Partitions: 2})
	defer b.Close()
	const n = 1024 // four blocks, half of each done
	j, _ := revJob(t, b, n)
	for i := 0; i < n; i += 2 {
		revStore(t, b, j.ID, i, verify.Deliverable)
	}
	time.Sleep(500 * time.Millisecond) // the followers have applied them
	watch, err := nats.Connect(servers[1].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	var leaderGets atomic.Int64
	sub, err := watch.Subscribe("$JS.API.STREAM.MSG.GET."+ResultsStream, func(*nats.Msg) { leaderGets.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	start := time.Now()
	got, err := b.ResultsBatch(t.Context(), j.ID, idx)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	_ = watch.Flush()
	time.Sleep(100 * time.Millisecond)
	_ = sub.Unsubscribe()
	for i, r := range got {
		if (r != nil) != (i%2 == 0) {
			t.Fatalf("entry %d: %s", i, r)
		}
	}
	if g, most := leaderGets.Load(), int64(n/2+n/resultBlock); g > most {
		t.Errorf("downloading a half-done job of %d entries asked the leader %d times in %v; want at most %d (one a missing entry, one a block)", n, g, took, most)
	}
}
