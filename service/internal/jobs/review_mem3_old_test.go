package jobs

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
)

// Adversarial review of mem3 (issue #25): the aggregator's position
// stored every 15 s (8429b09) and the per-subject limits on MV_STAGE and
// MV_RESULTS (c1c35d1).

// mem3OldStreams deletes MV_STAGE and MV_RESULTS and creates them again
// with the config of main 4d8dfc1 (bus.go's setup then: no per-subject
// limit), as a --data directory from before c1c35d1 holds them.
func mem3OldStreams(t *testing.T, b *Bus) {
	t.Helper()
	ctx := context.Background()
	for _, sc := range mem3OldConfigs(b) {
		if err := b.JS.DeleteStream(ctx, sc.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := b.JS.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if b.stage, err = b.JS.Stream(ctx, StageStream); err != nil {
		t.Fatal(err)
	}
}

// mem3OldConfigs are MV_STAGE's and MV_RESULTS's configs in 4d8dfc1.
func mem3OldConfigs(b *Bus) []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{Name: StageStream, Subjects: []string{"mv.stage.>"}, MaxAge: b.retention(), Replicas: b.replicas()},
		{Name: ResultsStream, Subjects: []string{"mv.result.*.*"}, MaxAge: b.retention(), Replicas: b.replicas(),
			Duplicates: 10 * time.Minute, Compression: jetstream.S2Compression, AllowDirect: true},
	}
}

func mem3Info(t *testing.T, b *Bus, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := b.JS.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo()
}

// TestReviewMem3OldDataDir: a --data directory whose streams the code
// before c1c35d1 created, holding a staged upload (a job queued, not yet
// routed), a job stored in the old layout (a subject per entry) with
// copies, and one in blocks with a block subject of 256 entries and three
// copies of each (over a thousand messages on one subject). The new code
// opens it: the streams take the limits, no message is dropped, the
// queued job is routed and finished by a node, and the stored jobs are
// counted once and read back whole.
func TestReviewMem3OldDataDir(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, Config{Partitions: 2, DataDir: dir})
	mem3OldStreams(t, b)
	// In the old streams: results first (two jobs), then a staged upload.
	oldJob, _ := revJob(t, b, 300)
	for i := range 300 {
		revStoreOld(t, b, oldJob.ID, i, verify.Deliverable)
		if i%3 == 0 {
			revStore(t, b, oldJob.ID, i, verify.Unknown) // a later copy, in blocks
		}
	}
	const n = 512
	blockJob, _ := revJob(t, b, n)
	for i := range n {
		revStore(t, b, blockJob.ID, i, verify.Deliverable)
		if i < 256 {
			for range 3 {
				revStore(t, b, blockJob.ID, i, verify.Unknown)
			}
		}
	}
	w, addrs := smallWorld(20, 2)
	queuedJob, err := b.Submit(context.Background(), Spec{}, lines(addrs[:40]))
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]uint64{
		StageStream: mem3Info(t, b, StageStream).State.Msgs, ResultsStream: mem3Info(t, b, ResultsStream).State.Msgs}
	if before[StageStream] == 0 {
		t.Fatal("the queued job has no staged chunk")
	}
	b.Close()

	b = openBus(t, Config{Partitions: 2, DataDir: dir}) // the new code on the old directory
	defer func() { b.Close() }()
	for name, want := range map[string]int64{StageStream: 1, ResultsStream: noPerSubjectLimit} {
		info := mem3Info(t, b, name)
		if info.Config.MaxMsgsPerSubject != want {
			t.Errorf("%s: MaxMsgsPerSubject %d after the start; want %d", name, info.Config.MaxMsgsPerSubject, want)
		}
		if info.Config.Discard != jetstream.DiscardOld {
			t.Errorf("%s: discard policy %v; want old", name, info.Config.Discard)
		}
		if info.State.Msgs != before[name] {
			t.Errorf("%s: %d messages after the start; %d before (the limit dropped some)", name, info.State.Msgs, before[name])
		}
	}
	// A rolling upgrade (serve first, then the workers): a worker of the
	// old code starting now sets its config again, then a new one.
	for _, sc := range mem3OldConfigs(b) {
		if _, err := b.JS.CreateOrUpdateStream(context.Background(), sc); err != nil {
			t.Errorf("an old worker's setup of %s on the new streams: %v", sc.Name, err)
		}
	}
	b.Close()
	b = openBus(t, Config{Partitions: 2, DataDir: dir})
	s := startStack(t, b, w, nil)
	waitDone(t, b, queuedJob.ID, 60*time.Second)
	waitDone(t, b, oldJob.ID, 60*time.Second)
	waitDone(t, b, blockJob.ID, 60*time.Second)
	revWaitPosition(t, b)
	s.stop()
	revCheck(t, b, oldJob.ID, 300, func(int) string { return "deliverable" })
	revCheck(t, b, blockJob.ID, n, func(int) string { return "deliverable" })
	if got := revExport(t, b, queuedJob.ID); len(got.status) != 40 || len(got.twice) > 0 {
		t.Errorf("the job queued before the upgrade exports %d entries (twice: %v); want 40 once", len(got.status), got.twice)
	}
	if left := mem3Info(t, b, StageStream).State.Msgs; left != 0 {
		t.Errorf("MV_STAGE holds %d chunks after the job was routed; want 0", left)
	}
}

// BenchmarkReviewMem3SmallJobNearLimit (2e408fb): a 1-address job, end to
// end, while the process holds a live heap of about 100 MiB (what the
// million-address job peaks at, mem3.md) and keeps allocating, under no
// limit, serve's old default (128 MiB) and its new one (112 MiB).
func BenchmarkReviewMem3SmallJobNearLimit(bb *testing.B) {
	w, addrs := smallWorld(1, 1)
	defer w.Close()
	b := openBus(bb, Config{Partitions: 2})
	defer b.Close()
	s := startStack(&testing.T{}, b, w, nil)
	defer s.stop()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	var ballast [][]byte
	for live := ms.HeapAlloc; live < 100<<20; live += 1 << 20 {
		ballast = append(ballast, make([]byte, 1<<20))
		ballast[len(ballast)-1][0] = 1
	}
	quit := make(chan struct{})
	defer close(quit)
	go func() { // the big job's churn: short-lived buffers
		var sink []byte
		for {
			select {
			case <-quit:
				return
			default:
			}
			sink = make([]byte, 64<<10)
			sink[0] = 1
			time.Sleep(mem3Churn)
		}
	}()
	for _, lim := range []struct {
		name  string
		bytes int64
	}{{"off", math.MaxInt64}, {"128MiB", 128 << 20}, {"112MiB", 112 << 20}} {
		bb.Run(lim.name, func(bb *testing.B) {
			old := debug.SetMemoryLimit(lim.bytes)
			defer debug.SetMemoryLimit(old)
			runtime.ReadMemStats(&ms)
			gc0, cpu0 := ms.NumGC, mem3CPU()
			for bb.Loop() {
				j, err := b.Submit(context.Background(), Spec{}, lines(addrs[:1]))
				if err != nil {
					bb.Fatal(err)
				}
				for g, err := b.Get(context.Background(), "", j.ID); g.State != Done; g, err = b.Get(context.Background(), "", j.ID) {
					if err != nil {
						bb.Fatal(err)
					}
					time.Sleep(time.Millisecond)
				}
			}
			runtime.ReadMemStats(&ms)
			bb.ReportMetric(float64(ms.NumGC-gc0)/float64(bb.N), "gc/op")
			bb.ReportMetric(float64((mem3CPU()-cpu0).Milliseconds())/float64(bb.N), "cpu-ms/op")
		})
	}
	runtime.KeepAlive(ballast)
}

// mem3Churn is the pause between two 64 KiB garbage buffers of the
// benchmark's churn (MAILVERIFY_REVIEW_CHURN, a Go duration; 50µs by
// default: about 1 GB/s here; 500µs: about 100 MB/s).
var mem3Churn = func() time.Duration {
	d, err := time.ParseDuration(os.Getenv("MAILVERIFY_REVIEW_CHURN"))
	if err != nil {
		return 50 * time.Microsecond
	}
	return d
}()

// mem3CPU is the process's CPU time so far (user and system).
func mem3CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReviewMem3Reread: what a kill costs now that the position may
// be up to 15 s old: an aggregator that starts 100,000 results behind
// (10 s of a million-address job at 10k/s) rereads them before it counts
// a new result; reported as the time until a new job's one result is
// counted.
func BenchmarkReviewMem3Reread(bb *testing.B) {
	b := openBus(bb, Config{Partitions: 2})
	defer b.Close()
	const n = 100000
	big, _ := revJob(&testing.T{}, b, n)
	stop := revAggregator(b, nil)
	ctx := context.Background()
	for i := range n {
		r := verify.Result{Input: fmt.Sprintf("user%d@example.com", i), Status: verify.Deliverable}
		if _, err := b.storeResult(ctx, task{Job: big.ID, Index: i}, r); err != nil {
			bb.Fatal(err)
		}
	}
	waitDone(bb, b, big.ID, time.Minute)
	stop()
	for _, behind := range []uint64{aggBatch, n} { // the old code's most; 10 s at 10k/s
		bb.Run(fmt.Sprintf("behind=%d", behind), func(bb *testing.B) {
			for bb.Loop() {
				e, _ := b.State.Get(ctx, positionKey)
				p, _ := strconv.ParseUint(string(e.Value()), 10, 64)
				if _, err := b.State.Put(ctx, positionKey, []byte(strconv.FormatUint(p-min(p, behind), 10))); err != nil {
					bb.Fatal(err)
				}
				small, _ := revJob(&testing.T{}, b, 1)
				r := verify.Result{Input: "user0@example.com", Status: verify.Deliverable}
				if _, err := b.storeResult(ctx, task{Job: small.ID, Index: 0}, r); err != nil {
					bb.Fatal(err)
				}
				start := time.Now()
				stop = revAggregator(b, nil)
				waitDone(bb, b, small.ID, time.Minute)
				bb.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-count")
				stop()
			}
		})
	}
}
