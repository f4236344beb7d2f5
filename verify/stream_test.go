package verify

import (
	"fmt"
	"iter"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestSessionsSharedAcrossDomains: domains whose MX is the same server
// (as Workspace or Microsoft 365 customers' are) share one connection.
func TestSessionsSharedAcrossDomains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var known []string
		for d := range 5 {
			known = append(known, fmt.Sprintf("jane@tenant%d.com", d))
		}
		srv := testsmtp.Mailboxes(known...)
		ip := netip.MustParseAddr("127.0.5.1")
		w.res.IP["aspmx.hosting.net"] = []netip.Addr{ip}
		w.router[netip.AddrPortFrom(ip, 25).String()] = srv
		var addrs []string
		for d := range 5 {
			domain := fmt.Sprintf("tenant%d.com", d)
			w.res.MX[domain] = []*net.MX{{Host: "aspmx.hosting.net", Pref: 1}}
			addrs = append(addrs, "jane@"+domain)
		}
		addrs = append(addrs, "ghost@tenant0.com") // few errors: no reconnect before the error limit
		got := verifyAll(t, w.verifier(), addrs)
		for _, a := range addrs {
			want := ReasonMailboxNotFound
			if strings.HasPrefix(a, "jane@") {
				want = ReasonAccepted
			}
			if got[a].Reason != want {
				t.Errorf("%s: %v/%v, want %v", a, got[a].Status, got[a].Reason, want)
			}
		}
		// At most three connections: each domain's acceptance wants a
		// refusal of its own domain after it (a canary), each domain's
		// first flush a front pair (positional.go; the last domain's
		// catch-all probe, just before the batch, is its pair's first):
		// five probes, nine fronts, the ghost and five canaries are 20
		// refusals, where the session's error budget is 8.
		if n := srv.Connections(); n > 3 {
			t.Errorf("%d connections for 5 domains on one server, want at most 3", n)
		}
		if n := srv.Count("MAIL"); n > 2+5 { // a transaction for the batch (and the trailing probes), one per catch-all probe
			t.Errorf("%d MAIL commands", n)
		}
	})
}

// TestGreylistParking: a greylisted domain does not hold back the others,
// and several greylisted domains wait in parallel: the wall time is about
// one greylisting delay, not their sum.
func TestGreylistParking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var addrs []string
		for d := range 4 {
			domain := fmt.Sprintf("grey%d.com", d)
			w.add(domain, testsmtp.Greylist())
			addrs = append(addrs, "jane@"+domain)
		}
		w.add("fast.com", testsmtp.Mailboxes("jane@fast.com"))
		addrs = append(addrs, "jane@fast.com")
		v := w.verifier()
		v.GreylistDelay, v.GreylistMaxWait = time.Minute, 10*time.Minute
		v.Concurrency = 1 // one session at a time: waiting must not hold it
		start := time.Now()
		var fastAt time.Duration
		n := 0
		for i, r := range v.VerifyAll(t.Context(), addrs) {
			n++
			if addrs[i] == "jane@fast.com" {
				fastAt = time.Since(start)
				continue
			}
			if r.Reason != ReasonCatchAll { // the preset accepts everyone after the delay
				t.Errorf("%s: %v/%v", addrs[i], r.Status, r.Reason)
			}
		}
		if n != len(addrs) {
			t.Fatalf("%d results", n)
		}
		if fastAt > time.Second {
			t.Errorf("the fast domain waited %v behind the greylisted ones", fastAt)
		}
		if d := time.Since(start); d > 2*time.Minute {
			t.Errorf("4 greylisted domains took %v: they waited one after the other", d)
		}
	})
}

// generated yields n addresses over many domains without holding them.
func generated(n, domains int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range n {
			if !yield(fmt.Sprintf("user%d@domain%d.com", i, i%domains)) {
				return
			}
		}
	}
}

// TestStreamMemoryIsBounded: the heap while verifying a large generated
// input stays under a bound that does not depend on its length.
func TestStreamMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million addresses")
	}
	v := &Verifier{Offline: true, Window: 1024}
	heap := func(n int) uint64 {
		var peak uint64
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		count := 0
		for range v.VerifySeq(t.Context(), generated(n, 5000)) {
			if count++; count%50000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc-min(base, ms.HeapAlloc))
			}
		}
		if count != n {
			t.Fatalf("%d results for %d addresses", count, n)
		}
		return peak
	}
	small, large := heap(100_000), heap(1_000_000)
	if large > 64<<20 || large > 4*small+8<<20 {
		t.Errorf("peak heap %d MB for 1M addresses, %d MB for 100k: grows with the input", large>>20, small>>20)
	}
}

// TestStreamYieldsBeforeInputEnds: results come while the input is still
// being read, and the window holds reading back.
func TestStreamYieldsBeforeInputEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		read := 0
		in := func(yield func(string) bool) {
			for i := range 100 {
				mu.Lock()
				read++
				mu.Unlock()
				if !yield(fmt.Sprintf("bad address %d", i)) {
					return
				}
			}
		}
		v := &Verifier{Offline: true, Window: 4}
		first := -1
		for range v.VerifySeq(t.Context(), in) {
			if first < 0 {
				mu.Lock()
				first = read
				mu.Unlock()
			}
		}
		if first > 5 {
			t.Errorf("the first result came after %d addresses were read; the window is 4", first)
		}
	})
}

// TestStreamBreakEndsTheWork: breaking out of the loop stops reading the
// input and leaves nothing running (synctest fails on a leftover
// goroutine).
func TestStreamBreakEndsTheWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		n := 0
		for range v.VerifySeq(t.Context(), generated(1_000_000, 10)) {
			if n++; n == 3 {
				break
			}
		}
	})
}

// BenchmarkStreamMemory verifies generated inputs of 1M and 10M addresses
// over 50,000 domains, offline and with DNS against an in-process fake
// (SkipSMTP), and reports the largest live heap (after a collection, every
// 500,000 addresses) and the largest heap seen between collections (every
// 100,000): neither should depend on the input size.
//
//	go test -run '^$' -bench BenchmarkStreamMemory -benchtime 1x ./verify
func BenchmarkStreamMemory(b *testing.B) {
	const domains = 50000
	res := &mxtestResolver{}
	res.init(domains)
	for _, mode := range []string{"offline", "dns"} {
		for _, n := range []int{1_000_000, 10_000_000} {
			b.Run(fmt.Sprintf("%s/n=%d", mode, n), func(b *testing.B) {
				for b.Loop() {
					v := &Verifier{Offline: mode == "offline", SkipSMTP: true, Resolver: res.r, AllowPrivate: true, ResolverCanary: "-"}
					var peak, live uint64
					var ms runtime.MemStats
					runtime.GC()
					count := 0
					for range v.VerifySeq(b.Context(), generated(n, domains)) {
						if count++; count%100_000 == 0 {
							if count%500_000 == 0 {
								runtime.GC()
							}
							runtime.ReadMemStats(&ms)
							peak = max(peak, ms.HeapAlloc)
							if count%500_000 == 0 {
								live = max(live, ms.HeapAlloc)
							}
						}
					}
					b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
					b.ReportMetric(float64(live)/(1<<20), "live-heap-MB")
					b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "addr/s")
				}
			})
		}
	}
}
