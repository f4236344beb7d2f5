package jobs

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestClusterDownloadAsksTheLeaderByBatch: the file download of running
// jobs on three replicas, one in blocks and one in the old layout (and a
// few entries in both, as a rolling upgrade leaves them). Every result
// stored is read, the first stored of an entry wins, and the stream's
// leader is asked a bounded number of times: once a block with entries
// missing and once for the job's last result, not once a missing entry.
func TestClusterDownloadAsksTheLeaderByBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	b, servers := clusterBus(t)
	const n = 2 * multiGetMax // two batched gets of the old layout, 8 blocks
	blocks, _ := revJob(t, b, n)
	old, _ := revJob(t, b, n)
	want := map[string]func(i int) string{
		blocks.ID: func(i int) string { return map[bool]string{true: "deliverable"}[i%2 == 0] },
		old.ID: func(i int) string {
			return map[bool]string{true: "undeliverable"}[i%2 == 1]
		},
	}
	for i := range n {
		if i%2 == 0 {
			revStore(t, b, blocks.ID, i, verify.Deliverable)
			continue
		}
		revStoreOld(t, b, old.ID, i, verify.Undeliverable)
		if i%64 == 1 {
			revStore(t, b, old.ID, i, verify.Unknown) // a later copy
		}
	}
	time.Sleep(500 * time.Millisecond) // the followers have applied them
	leader := watchLeaderGets(t, servers[1].ClientURL())
	idx := allIndexes(n)
	for _, id := range []string{blocks.ID, old.ID} {
		leader.reset()
		got, err := b.ResultsBatch(t.Context(), id, idx)
		if err != nil {
			t.Fatal(err)
		}
		if g, most := leader.count(), int64((n+resultBlock-1)/resultBlock+1); g > most {
			t.Errorf("job %s: the download asked the leader %d times; want at most %d (one a block, one for the job)", id, g, most)
		}
		batched, each := revDownload(t, b, id, n)
		for i := range n {
			w := want[id](i)
			if status(t, got[i]) != w || batched[i] != w || each[i] != w {
				t.Errorf("job %s entry %d: %q, %q by ResultsAt; want %q", id, i, batched[i], each[i], w)
			}
		}
	}
	// The first result of a job past a sequence (a rebuild's start, the
	// end of an export or a page) is the leader's answer too.
	leader.reset()
	first, err := b.firstSeq(t.Context(), jobResults(old.ID), 1)
	if err != nil {
		t.Fatal(err)
	}
	asked := leader.count()
	m, err := b.JS.Stream(t.Context(), ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	want1, err := m.GetMsg(t.Context(), first)
	if err != nil || want1.Subject != entrySubject(old.ID, 1) || asked != 1 {
		t.Errorf("the job's first result: %d (%v, %v), %d leader requests; want entry 1's, one", first, want1, err, asked)
	}
}

// status is the status of a stored result, "" for none.
func status(t *testing.T, raw []byte) string {
	t.Helper()
	if raw == nil {
		return ""
	}
	var r struct{ Status string }
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return r.Status
}

// clusterBus is a bus on a cluster of three servers, its streams on three
// replicas.
func clusterBus(t *testing.T) (*Bus, []*server.Server) {
	t.Helper()
	servers := startCluster(t, 3)
	b := openBus(t, Config{URL: servers[0].ClientURL(), Replicas: 3, Partitions: 2})
	t.Cleanup(b.Close)
	return b, servers
}

// leaderWatch counts the requests that reach the results stream's leader
// (direct gets, which any replica answers, do not).
type leaderWatch struct {
	nc   *nats.Conn
	gets atomic.Int64
}

func watchLeaderGets(t *testing.T, url string) *leaderWatch {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := &leaderWatch{nc: nc}
	if _, err := nc.Subscribe("$JS.API.STREAM.MSG.GET."+ResultsStream, func(*nats.Msg) { w.gets.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *leaderWatch) reset() { w.gets.Store(0) }

// count is the requests seen since reset, once those in flight arrived.
func (w *leaderWatch) count() int64 {
	_ = w.nc.Flush()
	time.Sleep(100 * time.Millisecond)
	return w.gets.Load()
}

// allIndexes is 0, 1, ..., n-1.
func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
