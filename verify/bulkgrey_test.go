package verify

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestBulkGreylistedNoneLeft runs BenchmarkBulkPolite's world in a
// bubble, where it takes a second or two, not a minute, with a
// GreylistMaxWait of 30 s, half the benchmark's: the run lasts over a
// minute and the world greylists each address for 4 s, so every address
// passes its first retry (5 s) well within its budget, and none may end
// unknown/greylisted. At the base, an address of a domain greylisting
// since early in the run, first asked after the domain's budget (its
// domain still in flight), was tried once within its 4 s and settled
// greylisted (with the benchmark's minute, 5 to 9 addresses in 1 run of
// 7; TestGreyLateAddressGetsItsBudget is the case alone).
func TestBulkGreylistedNoneLeft(t *testing.T) {
	for _, slow := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			w := newBulkWorld(1, 700, 120, bulkRTT, bulkGrey, slow)
			defer w.close()
			v := &Verifier{Resolver: w.res, Dialer: w.dial, AllowPrivate: true, HELO: "bench.example.net", ResolverCanary: "-",
				PerHostRate: bulkRate, Concurrency: bulkConcurrency, Window: bulkWindow,
				GreylistDelay: bulkGrey + time.Second, GreylistMaxWait: 30 * time.Second}
			start := time.Now()
			n, left := 0, 0
			for _, r := range v.VerifyAll(context.Background(), w.addrs) {
				n++
				if r.Reason == ReasonGreylisted {
					left++
				}
			}
			t.Logf("busiest slow %v: wall %v, %d addresses, %d left greylisted", slow, time.Since(start), n, left)
			if n != len(w.addrs) || left > 0 {
				t.Errorf("busiest slow %v: %d results of %d, %d left greylisted: want every address through its retry",
					slow, n, len(w.addrs), left)
			}
		})
	}
}
