package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

// TestReviewHealthKVGoneMidJob (rev-egress): the health bucket is deleted,
// or the embedded NATS server stops, while a verifier is half-way through
// its addresses (Timeout 5 s). Every address comes back, none with a wrong
// definite verdict, none later than its Timeout and a KV timeout, and an
// unknown from the store is rate_limited with retry_after and an
// *egress.StoreError. With the NATS server gone, every KV call waited out
// its 2 s timeout and Route made several, outside the address's Timeout
// (16 addresses took 10.4 s at Timeout 5 s) until Verifier.route gave a
// route up when its context ended.
func TestReviewHealthKVGoneMidJob(t *testing.T) {
	for _, mode := range []string{"none", "delete", "shutdown"} {
		t.Run(mode, func(t *testing.T) {
			w := newEgressWorld(t, "")
			addrs := w.domains("m", "gmail-smtp-in.l.google.com", 8)
			b := openBus(t, Config{})
			t.Cleanup(b.Close)
			store, err := b.NewEgressStore(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			v := w.verifier(sharedEgress)
			v.Timeout, v.EgressStore = 5*time.Second, store
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			start := time.Now()
			n := 0
			counts := map[string]int{}
			for _, r := range v.VerifyAll(ctx, addrs) {
				n++
				if n == 2 {
					if mode == "delete" {
						if err := b.JS.DeleteKeyValue(t.Context(), EgressBucket); err != nil {
							t.Fatal(err)
						}
					} else if mode == "shutdown" {
						b.embedded.Shutdown()
					}
				}
				counts[r.Status.String()+"/"+string(r.Reason)]++
				exists := strings.HasPrefix(r.Input, "jane@")
				switch {
				case r.Status == verify.Deliverable && !exists, r.Status == verify.Undeliverable && exists:
					t.Errorf("%s: %s/%s: wrong definite verdict", r.Input, r.Status, r.Reason)
				case r.Status == verify.Unknown && errors.Is(r.Err, egress.ErrStore) &&
					(r.Reason != verify.ReasonRateLimited || r.RetryAfter <= 0):
					t.Errorf("%s: %s/%s retry_after %v: a StoreError that is not rate_limited with retry_after", r.Input, r.Status, r.Reason, time.Duration(r.RetryAfter))
				case r.Status == verify.Unknown && r.Reason != verify.ReasonRateLimited:
					t.Errorf("%s: %s/%s (%v) after the store went: want rate_limited", r.Input, r.Status, r.Reason, r.Err)
				}
			}
			took := time.Since(start)
			if n != len(addrs) {
				t.Errorf("%d results for %d addresses", n, len(addrs))
			}
			t.Logf("%s: %v in %v", mode, counts, took.Round(time.Millisecond))
			if bound := v.Timeout + 3*time.Second; took > bound { // a KV timeout is 2 s
				t.Errorf("%s: VerifyAll took %v with Timeout %v; want at most %v: the store's failure is not met at once", mode, took.Round(time.Millisecond), v.Timeout, bound)
			}
		})
	}
}
