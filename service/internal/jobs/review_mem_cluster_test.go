package jobs

import (
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// TestReviewMemClusterDownloadOfARunningJob: the file download of a job
// still running (the API allows it) on three replicas. Entries not done
// yet are missing from their blocks; a block is walked on the stream's
// leader (one request a message) only when the leader holds a result of
// the block past what the direct answer gave, which one request a block
// tells. The bound here is the one before the old layout's entries were
// asked by batch (at most one request a missing entry and one a block);
// TestClusterDownloadAsksTheLeaderByBatch holds the tighter one.
func TestReviewMemClusterDownloadOfARunningJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	b, servers := clusterBus(t)
	const n = 1024 // four blocks, half of each done
	j, _ := revJob(t, b, n)
	for i := 0; i < n; i += 2 {
		revStore(t, b, j.ID, i, verify.Deliverable)
	}
	time.Sleep(500 * time.Millisecond) // the followers have applied them
	leader := watchLeaderGets(t, servers[1].ClientURL())
	start := time.Now()
	got, err := b.ResultsBatch(t.Context(), j.ID, allIndexes(n))
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	gets := leader.count()
	for i, r := range got {
		if (r != nil) != (i%2 == 0) {
			t.Fatalf("entry %d: %s", i, r)
		}
	}
	if g, most := gets, int64(n/2+n/resultBlock); g > most {
		t.Errorf("downloading a half-done job of %d entries asked the leader %d times in %v; want at most %d (one a missing entry, one a block)", n, g, took, most)
	}
}
