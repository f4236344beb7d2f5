package verify

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestGreylistedAgainInALaterCall: the service sends a greylisted address
// back to its bus and verifies it anew in a later call on the same
// Verifier (GreylistMaxWait a nanosecond). At a server that greylists
// every recipient the first time it sees it (random addresses too), the
// later call's acceptances are proven by the front pair deferred with
// them, asked again right after them (hostRun.trailFronts), and a random
// address the Detector deferred in the earlier call. Before trailFronts
// the pair waited its greylisting delay, a pair drawn afresh was deferred
// in its place, and jane@ and bob@ ended unknown/cannot_verify in every
// later call.
func TestGreylistedAgainInALaterCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testsmtp.GreylistFor(1, "jane@grey.com", "bob@grey.com")
		w := newWorld()
		defer w.router.close()
		w.add("grey.com", srv)
		v := w.verifier()
		v.GreylistMaxWait = time.Nanosecond
		want := map[string]Status{"jane@grey.com": Deliverable, "bob@grey.com": Deliverable, "nobody@grey.com": Undeliverable}
		addrs := []string{"jane@grey.com", "bob@grey.com", "nobody@grey.com"}
		for call := range 3 {
			for _, r := range v.VerifyAll(t.Context(), addrs) {
				switch {
				case call == 0 && r.Reason != ReasonGreylisted:
					t.Errorf("call 0: %s %s/%s, want unknown/greylisted", r.Input, r.Status, r.Reason)
				case call > 0 && r.Status != want[r.Input]:
					t.Errorf("call %d: %s %s/%s, want %s", call, r.Input, r.Status, r.Reason, want[r.Input])
				}
			}
			time.Sleep(1100 * time.Millisecond)
		}
	})
}
