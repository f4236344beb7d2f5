package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestLoad measures the service under load, for the notes: /v1/verify and
// job submission at 1, 16 and 64 requests at once, each for a few
// seconds, with p50/p99 latency and the server's RSS. It runs only with
// MAILVERIFY_LOADTEST=1 (MAILVERIFY_LOADTEST_BIN: a binary to measure
// instead of this one, to compare with another version in the same run).
func TestLoad(t *testing.T) {
	if os.Getenv("MAILVERIFY_LOADTEST") == "" {
		t.Skip("a measurement: MAILVERIFY_LOADTEST=1")
	}
	bin := os.Getenv("MAILVERIFY_LOADTEST_BIN")
	if bin == "" {
		bin = buildCLI(t)
	}
	srv := testsmtp.Mailboxes()
	flags, zone := setup(t, srv)
	for d := range 50 {
		zone.Add(fmt.Sprintf("d%d.example.test. 300 IN MX 10 mx.example.test.", d))
	}
	args := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--request-rate", "1000000",
		"--rate", "100000", "--per-host", "64", "--concurrency", "64"}, slicesWithout(flags, "--progress=false")...)
	p := startServe(t, bin, args...)
	var seq atomic.Int64
	verify := func() (*http.Request, error) {
		i := seq.Add(1)
		body := fmt.Sprintf(`{"address":"u%d@d%d.example.test"}`, i, i%50)
		req, err := http.NewRequest("POST", p.url+"/v1/verify", strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}
	submitJob := func() (*http.Request, error) {
		i := seq.Add(1)
		var b strings.Builder
		for k := range 10 {
			fmt.Fprintf(&b, "u%d-%d@d%d.example.test\n", i, k, k)
		}
		req, err := http.NewRequest("POST", p.url+"/v1/jobs", strings.NewReader(b.String()))
		if err == nil {
			req.Header.Set("Content-Type", "text/plain")
		}
		return req, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	for _, op := range []struct {
		name string
		mk   func() (*http.Request, error)
	}{{"verify", verify}, {"submit", submitJob}} {
		for _, conc := range []int{1, 16, 64} {
			r := hammer(t, client, op.mk, conc, 5*time.Second)
			t.Logf("%-6s c=%-2d %6.0f req/s  p50 %6.1f ms  p99 %7.1f ms  errors %d  RSS %d MiB (peak %d MiB)",
				op.name, conc, r.rate, r.p50, r.p99, r.errors, rss(p, "VmRSS")>>10, rss(p, "VmHWM")>>10)
		}
	}
}

type loadResult struct {
	rate, p50, p99 float64
	errors         int
}

// hammer sends requests from conc goroutines for d.
func hammer(t *testing.T, c *http.Client, mk func() (*http.Request, error), conc int, d time.Duration) loadResult {
	var mu sync.Mutex
	var lat []float64
	errs := 0
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for time.Now().Before(stop) {
				req, err := mk()
				if err != nil {
					t.Error(err)
					return
				}
				start := time.Now()
				resp, err := c.Do(req)
				ok := err == nil && resp.StatusCode/100 == 2
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				ms := float64(time.Since(start).Microseconds()) / 1000
				mu.Lock()
				lat = append(lat, ms)
				if !ok {
					errs++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(q*float64(len(lat))))]
	}
	if errs > 0 {
		t.Errorf("%d of %d requests failed", errs, len(lat))
	}
	return loadResult{rate: float64(len(lat)) / d.Seconds(), p50: pct(0.5), p99: pct(0.99), errors: errs}
}

// rss reads a field of the server's /proc status in KiB.
func rss(p *serveProc, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}
