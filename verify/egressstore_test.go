package verify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// downHealth is an egress store whose health records cannot be read or
// written (a cluster's KV that times out, or is out of reach), while the
// budgets (in memory) work.
type downHealth struct{ err error }

func (s downHealth) Get(egress.Key) (egress.Record, uint64, error)         { return egress.Record{}, 0, s.err }
func (s downHealth) Put(egress.Key, egress.Record, uint64) (uint64, error) { return 0, s.err }
func (s downHealth) List() ([]egress.Entry, error)                         { return nil, s.err }

// TestEgressHealthStoreDownIsRateLimited: with the health store failing,
// no session starts (a back-off that cannot be read is not overrun), and
// every address ends unknown/rate_limited with retry_after, its Err an
// *egress.StoreError: a store outage is neither the receiver's fault nor
// a fact about the mailbox, and a cluster parks such an address and tries
// again. Before, the store's error reached the engine bare and the
// addresses ended unknown/timeout (a KV timeout) or
// unknown/connection_failed (a connection that is gone), which a cluster
// stores as the answer.
func TestEgressHealthStoreDownIsRateLimited(t *testing.T) {
	for _, cause := range []error{
		fmt.Errorf("egress store: %w", context.DeadlineExceeded),
		errors.New("egress store: nats: connection closed"),
	} {
		t.Run(cause.Error(), func(t *testing.T) {
			w := newEgressWorld(t, "", sourceRule{})
			v, _ := w.verifier(t, 2, generous)
			v.Timeout = 5 * time.Second
			v.EgressStore = downHealth{err: cause}
			start := time.Now()
			res := w.check(t, v)
			for a, r := range res {
				var se *egress.StoreError
				if r.Status != Unknown || r.Reason != ReasonRateLimited || r.RetryAfter <= 0 ||
					!errors.As(r.Err, &se) || se.Store != "health" || !errors.Is(r.Err, cause) {
					t.Errorf("%s: %s/%s retry_after %v (%v); want unknown/rate_limited with retry_after and an *egress.StoreError of the health store",
						a, r.Status, r.Reason, time.Duration(r.RetryAfter), r.Err)
				}
			}
			if n := len(w.server.perSource()); n != 0 {
				t.Errorf("RCPTs from %d sources with the health store down; want none", n)
			}
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("took %v; a store that fails refuses at once, without waiting out the Timeout", took)
			}
		})
	}
}
