package verify

import (
	"context"
	"testing"
	"time"
)

// TestPerServerLimits runs a shuffled list through a world where many MX
// names lead to few server addresses, some greylisting and some slow, and
// checks at the servers what the limits promise: no server address sees
// more than burst + PerHostRate RCPTs in any second (probes, controls and
// retries count) nor more than PerHost connections at once, and the
// client never has more than Concurrency sessions open.
func TestPerServerLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	t.Parallel()
	const rate, conc, perHost = 15.0, 6, 2
	w := newBulkWorld(11, 100, 16, 5*time.Millisecond, time.Second, false)
	defer w.close()
	v := &Verifier{Resolver: w.res, Dialer: w.dial, AllowPrivate: true, HELO: "test.example.net", ResolverCanary: "-",
		PerHostRate: rate, Concurrency: conc, PerHost: perHost, Window: 100, GreylistDelay: time.Second, GreylistMaxWait: 20 * time.Second}
	start := time.Now()
	defer func() { t.Logf("took %v", time.Since(start)) }()
	n, grey := 0, 0
	for _, r := range v.VerifyAll(context.Background(), w.addrs) {
		n++
		if r.Reason == ReasonGreylisted {
			grey++
		}
	}
	if n != len(w.addrs) {
		t.Fatalf("%d results for %d addresses", n, len(w.addrs))
	}
	t.Logf("%d addresses, %d left greylisted", n, grey)
	// The promise is burst + rate×t RCPTs in any t seconds as sent. The
	// server stamps them as it reads them, and a loaded machine delays
	// some reads more than others: a second at the server holds what was
	// sent in up to a second and the jitter. Engines that ignored the rate
	// sent 41 in a second here.
	const jitter = 300 * time.Millisecond
	promise := batchSize + int(rate*(time.Second+jitter).Seconds())
	total := 0
	for _, b := range w.servers {
		total += len(b.times)
		if m := b.maxInWindow(time.Second); m > promise {
			t.Errorf("server %v saw %d RCPTs in one second; the promise is at most %d (%d with %v of read jitter)", b.ip, m, batchSize+int(rate), promise, jitter)
		}
		if m := b.srv.MaxOpen(); m > perHost {
			t.Errorf("server %v had %d connections at once, want at most %d", b.ip, m, perHost)
		}
	}
	if total < len(w.addrs) {
		t.Fatalf("servers saw %d RCPTs for %d addresses", total, len(w.addrs))
	}
	if m := w.dial.maxOpen.Load(); m > conc {
		t.Errorf("%d sessions open at once, want at most Concurrency %d", m, conc)
	}
	if busy := w.busiest(); busy.maxInWindow(time.Second) < int(rate)/2 {
		t.Errorf("the busiest server saw at most %d RCPTs a second: the test does not reach the limit", busy.maxInWindow(time.Second))
	}
}
