package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/verify"
)

// listJob stores a list of n rows as a job with a result for each,
// without verifying: no workers run, the results are published as the
// workers would.
func listJob(tb testing.TB, bus *jobs.Bus, srv *httptest.Server, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("id;name;email;note\r\n")
	for i := range n {
		fmt.Fprintf(&b, "%d;Person %d;user%d@example.com;\"a; b\"\r\n", i, i, i)
	}
	resp, err := http.Post(srv.URL+"/v1/lists?name=big.csv", "text/csv", strings.NewReader(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	var job jobs.Job
	err = json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		tb.Fatalf("POST /v1/lists: %d %v", resp.StatusCode, err)
	}

	for i := range n {
		r := verify.Result{Input: fmt.Sprintf("user%d@example.com", i), Status: verify.Undeliverable, Reason: verify.ReasonMailboxNotFound}
		if _, err := bus.JS.PublishAsync(fmt.Sprintf("mv.result.%s.%d", job.ID, i), r.AppendJSON(nil)); err != nil {
			tb.Fatal(err)
		}
		if i%1000 == 999 || i == n-1 {
			select {
			case <-bus.JS.PublishAsyncComplete():
			case <-time.After(time.Minute):
				tb.Fatal("publishing the results took over a minute")
			}
		}
	}

	return job.ID
}

// peakHeap runs f and returns the most heap in use while it ran, above
// what was in use before.
func peakHeap(f func()) uint64 {
	// Little garbage is let pile up, so that the peak is what is live.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base && m.HeapAlloc-base > peak.Load() {
				peak.Store(m.HeapAlloc - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// BenchmarkDownload streams a job's file with verdicts for jobs of 2,000
// and 20,000 rows, reading the body as a client that saves it to disk
// would (streamed, results fetched in batched gets), and three baselines:
// the same with one get per row as downloads did before
// (streamed-per-row), a client that holds the body
// (what building the file in memory costs), and the bus alone reading
// what a download reads (the file and every result, nothing written),
// whose memory is NATS's (the embedded server caches the blocks it
// reads). peak-heap-B is the most heap the process had live (GC at 5%)
// above its start.
func BenchmarkDownload(b *testing.B) {
	bus, err := jobs.Open(context.Background(), jobs.Config{DataDir: b.TempDir(), Partitions: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	api := &Server{Bus: bus}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	base := &Server{Bus: bus, perRowGets: true}
	baseSrv := httptest.NewServer(base.Handler())
	defer baseSrv.Close()
	for _, n := range []int{2000, 20000} {
		id := listJob(b, bus, srv, n)
		for _, mode := range []string{"streamed", "streamed-per-row", "held", "bus-only"} {
			b.Run(fmt.Sprintf("rows=%d/%s", n, mode), func(b *testing.B) {
				var size uint64
				once := func() {
					if mode == "bus-only" {
						size = busOnly(b, bus, id, n)
						return
					}
					url := srv.URL
					if mode == "streamed-per-row" {
						url = baseSrv.URL
					}
					size = download(b, url+"/v1/jobs/"+id+"/file", mode == "held")
				}
				// The time is measured without the heap sampler, which
				// stops the world every 2 ms; the peak in one more run.
				for b.Loop() {
					once()
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				peak := peakHeap(once)
				b.ReportMetric(float64(peak), "peak-heap-B")
				b.ReportMetric(float64(size), "file-B")
			})
		}
	}
}

// download gets a file and reads its body, holding it or not; it returns
// the size.
func download(b *testing.B, url string, hold bool) uint64 {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var m int64
	if hold {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		m = int64(len(body))
	} else {
		m, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("download: %d %v", resp.StatusCode, err)
	}
	return uint64(m)
}

// busOnly reads what a download of job id reads, and nothing else.
func busOnly(b *testing.B, bus *jobs.Bus, id string, n int) uint64 {
	ctx := context.Background()
	job, err := bus.Get(ctx, "", id)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, name := range []string{job.File.Object, job.File.Object + ".rows"} {
		r, err := bus.OpenObject(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		m, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		size += m
	}
	want := make([]int, 0, downloadBatch)
	for i := range n {
		want = append(want, i)
		if len(want) == downloadBatch || i == n-1 {
			res, err := bus.ResultsBatch(ctx, id, want)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				size += int64(len(r))
			}
			want = want[:0]
		}
	}
	return uint64(size)
}

// TestDownloadOfALargeJobIsWhole checks the benchmark's setup and the
// download at size: every row, in order, with its verdict.
func TestDownloadOfALargeJobIsWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5,000-row job")
	}
	bus, err := jobs.Open(context.Background(), jobs.Config{DataDir: t.TempDir(), Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv := httptest.NewServer((&Server{Bus: bus, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}).Handler())
	defer srv.Close()
	const n = 5000
	id := listJob(t, bus, srv, n)
	resp, err := http.Get(srv.URL + "/v1/jobs/" + id + "/file")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimPrefix(string(body), "\ufeff"), "\r\n")
	if len(lines) != n+2 || lines[n+1] != "" {
		t.Fatalf("%d lines; want %d and a final line ending", len(lines), n+2)
	}
	for i := range n {
		want := fmt.Sprintf("%d;Person %d;user%d@example.com;\"a; b\";undeliverable;mailbox_not_found;", i, i, i)
		if !strings.HasPrefix(lines[i+1], want) {
			t.Fatalf("line %d: %q; want it to start %q", i+1, lines[i+1], want)
		}
	}
}
