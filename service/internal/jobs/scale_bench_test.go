package jobs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/mailverify/mailverify/service/internal/fakeworld"
	"github.com/mailverify/mailverify/verify"
)

// BenchmarkScale runs whole jobs of 100,000 and 1,000,000 addresses
// through the real stack (the embedded JetStream store, the scheduler, a
// worker and the aggregator) on the NXDOMAIN path of a fake DNS, with no
// network, and reports for each size, in the same run:
//
//   - peak-MB: the process's peak resident set during the job (VmHWM,
//     reset before the job; the embedded NATS server is in the process, as
//     in "mailverify serve");
//   - after-MB: the resident set 5 s after the job finished;
//   - B/addr: the bytes the store's directory grew by, over the addresses;
//   - addr/s: addresses finished a second, upload included;
//   - lag-ms: the most the done count was ever behind the results stored
//     (sampled every 50 ms), and end-lag-ms: from the last result stored
//     to the job's state done.
//
// MAILVERIFY_SCALE_MEMLIMIT sets a soft memory limit in MiB, as
// "mailverify serve --memory-limit" does. MAILVERIFY_SCALE_SIZES replaces
// the sizes (comma-separated):
//
//	go test -run '^$' -bench Scale -benchtime 1x -timeout 0 ./internal/jobs
func BenchmarkScale(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if s := os.Getenv("MAILVERIFY_SCALE_SIZES"); s != "" {
		sizes = sizes[:0]
		for f := range strings.SplitSeq(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("MAILVERIFY_SCALE_SIZES: %q", f)
			}
			sizes = append(sizes, n)
		}
	}
	if s := os.Getenv("MAILVERIFY_SCALE_MEMLIMIT"); s != "" {
		mib, err := strconv.Atoi(s)
		if err != nil || mib <= 0 {
			b.Fatalf("MAILVERIFY_SCALE_MEMLIMIT: %q (MiB)", s)
		}
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(mib) << 20))
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var m scaleRun
			for range b.N {
				m = runScale(b, n)
			}
			b.ReportMetric(m.peakMB, "peak-MB")
			b.ReportMetric(m.afterMB, "after-MB")
			b.ReportMetric(m.liveMB, "live-MB")
			b.ReportMetric(m.bytesPerAddr, "B/addr")
			b.ReportMetric(m.rate, "addr/s")
			b.ReportMetric(float64(m.lag.Milliseconds()), "lag-ms")
			b.ReportMetric(float64(m.endLag.Milliseconds()), "end-lag-ms")
		})
	}
}

type scaleRun struct {
	peakMB, afterMB, liveMB, bytesPerAddr, rate float64
	lag, endLag                                 time.Duration
}

// nxInputs yields n addresses on 1,000 domains that do not exist,
// generated as they are read (the input is not held in memory).
func nxInputs(n int) Inputs {
	return func(yield func(input.Entry) bool) error {
		for i := range n {
			a := fmt.Sprintf("user%d@d%d.nx.test", i, i%1000)
			if !yield(input.Entry{Raw: a, Addr: a}) {
				return nil
			}
		}
		return nil
	}
}

// resultClock remembers when the stored results reached each multiple of
// its step, to tell how far behind a done count is.
type resultClock struct {
	step  int
	n     atomic.Int64
	mu    sync.Mutex
	times []time.Time // times[k]: when k*step results were stored
}

func (c *resultClock) add() {
	if v := c.n.Add(1); v%int64(c.step) == 0 {
		c.mu.Lock()
		c.times = append(c.times, time.Now())
		c.mu.Unlock()
	}
}

// behind returns how long ago the results stored first exceeded done (zero
// when they have not).
func (c *resultClock) behind(done int, now time.Time) time.Duration {
	k := done/c.step + 1 // the first mark past done
	c.mu.Lock()
	defer c.mu.Unlock()
	if k >= len(c.times) {
		return 0
	}
	return now.Sub(c.times[k])
}

func runScale(b *testing.B, n int) scaleRun {
	b.StopTimer()
	dir := b.TempDir()
	w := fakeworld.New()
	bus, err := Open(context.Background(), Config{DataDir: dir, Partitions: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	clock := &resultClock{step: 100, times: []time.Time{{}}}
	wv := w.Verifier()
	wv.GreylistMaxWait = time.Nanosecond
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	node := &Node{Bus: bus, Verifier: w.Verifier(), WorkerVerifier: wv, Logger: logger,
		Worker: Worker{Drain: time.Second, OnResult: func(verify.Result) { clock.add() }}}
	stopped := make(chan struct{})
	go func() { _ = node.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	before := diskUsage(b, dir)
	debug.FreeOSMemory()
	resetPeakRSS(b)
	b.StartTimer()
	start := time.Now()
	j, err := bus.Submit(ctx, Spec{}, nxInputs(n))
	if err != nil {
		b.Fatal(err)
	}
	var out scaleRun
	var worst string // when the done count was furthest behind
	var lastHeap float64
	var liveAt string // when the live heap was largest
	var dumped bool
	for {
		got, err := bus.Get(ctx, "", j.ID)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		if l := clock.behind(got.Done, now); l > out.lag {
			out.lag = l
			worst = fmt.Sprintf("%v in: done %d, stored %d", now.Sub(start).Round(time.Millisecond), got.Done, clock.n.Load())
			if f := os.Getenv("MAILVERIFY_SCALE_STALL"); f != "" && l > stallAt() && !dumped {
				dumped = true
				if fh, err := os.Create(f); err == nil {
					if st, err := bus.JS.Stream(ctx, ResultsStream); err == nil {
						for ci := range st.ListConsumers(ctx).Info() {
							fmt.Fprintf(fh, "consumer %s: delivered %+v ackfloor %+v pending %d waiting %d ackpending %d\n",
								ci.Name, ci.Delivered, ci.AckFloor, ci.NumPending, ci.NumWaiting, ci.NumAckPending)
						}
					}
					_ = pprof.Lookup("goroutine").WriteTo(fh, 2)
					fh.Close()
				}
			}
		}
		if live := heapLiveMB(); live > out.liveMB {
			out.liveMB = live
			liveAt = fmt.Sprintf("%v in: done %d", now.Sub(start).Round(time.Millisecond), got.Done)
			if f := os.Getenv("MAILVERIFY_SCALE_HEAP"); f != "" && live > 1.2*lastHeap {
				writeHeap(b, fmt.Sprintf("%s.%d.peak", f, n))
				lastHeap = live
			}
		}
		if got.State == Done {
			out.endLag = now.Sub(clock.times[len(clock.times)-1])
			break
		}
		if got.State != Queued && got.State != Running {
			b.Fatalf("job %s", got.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out.rate = float64(n) / time.Since(start).Seconds()
	b.StopTimer()
	if got := clock.n.Load(); got != int64(n) {
		b.Fatalf("%d results stored; want %d", got, n)
	}
	out.peakMB = float64(procStatus(b, "VmHWM")) / 1024
	if f := os.Getenv("MAILVERIFY_SCALE_HEAP"); f != "" {
		writeHeap(b, fmt.Sprintf("%s.%d", f, n))
	}
	time.Sleep(5 * time.Second)
	out.afterMB = float64(procStatus(b, "VmRSS")) / 1024
	out.bytesPerAddr = float64(diskUsage(b, dir)-before) / float64(n)
	b.Logf("n=%d: store by stream (bytes an address): %s", n, streamUsage(b, dir, n))
	if worst != "" {
		b.Logf("n=%d: furthest behind (%v) at %s", n, out.lag, worst)
	}
	b.Logf("n=%d: live heap largest (%.1f MB) at %s", n, out.liveMB, liveAt)
	b.Logf("n=%d: peak %.1f MB, after %.1f MB, live heap %.1f MB, %.1f B/addr, %.0f addr/s, lag %v, end lag %v",
		n, out.peakMB, out.afterMB, out.liveMB, out.bytesPerAddr, out.rate, out.lag, out.endLag)
	return out
}

// heapLiveMB is the heap the last garbage collection found live.
func heapLiveMB() float64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

// writeHeap writes a heap profile (MAILVERIFY_SCALE_HEAP names the file).
func writeHeap(b *testing.B, name string) {
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// procStatus reads a field of /proc/self/status in kB.
func procStatus(b *testing.B, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// resetPeakRSS sets VmHWM to the present resident set (Linux 4.0 and later).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
}

// streamUsage says how the store's space divides among its streams.
func streamUsage(b *testing.B, dir string, n int) string {
	var streams []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && filepath.Base(filepath.Dir(path)) == "streams" {
			streams = append(streams, path)
			return fs.SkipDir
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	var parts []string
	for _, s := range streams {
		if u := diskUsage(b, s); u >= int64(n) {
			parts = append(parts, fmt.Sprintf("%s %.1f", filepath.Base(s), float64(u)/float64(n)))
		}
	}
	return strings.Join(parts, ", ")
}

// diskUsage is the space the files under dir take on disk.
func diskUsage(b *testing.B, dir string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// stallAt is the lag at which MAILVERIFY_SCALE_STALL writes its dump:
// MAILVERIFY_SCALE_STALL_MS, or 1.5 s.
func stallAt() time.Duration {
	if ms, err := strconv.Atoi(os.Getenv("MAILVERIFY_SCALE_STALL_MS")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return 1500 * time.Millisecond
}
