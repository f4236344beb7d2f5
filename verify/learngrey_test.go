package verify

import (
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// TestGreylistDelayLearned: a server greylists each address for 150 s and
// states no delay. The first address, with GreylistDelay at a minute, is
// greylisted again at 1 min and passes at 3 min (1 + 2): the server's
// delay is learned. An address of another domain on the same server
// address, verified afterwards, waits the learned delay and passes at its
// first retry: two RCPTs, not three.
func TestGreylistDelayLearned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, asked := greyServer(150*time.Second, "jane@one.com", "joe@two.com")
		w := newWorld()
		defer w.router.close()
		w.add("one.com", srv)
		ip := w.res.IP["mx.one.com"]
		w.res.MX["two.com"] = []*net.MX{{Host: "mx.two.com", Pref: 10}}
		w.res.IP["mx.two.com"] = []netip.Addr{ip[0]} // another name, the same address
		v := w.verifier()
		v.GreylistDelay, v.GreylistMaxWait, v.SkipCatchAll = time.Minute, 10*time.Minute, true

		start := time.Now()
		r, _ := v.Verify(t.Context(), "jane@one.com")
		if r.Reason == ReasonGreylisted || asked("jane@one.com") != 3 {
			t.Fatalf("first address: %v/%v after %d RCPTs, want it through at the third", r.Status, r.Reason, asked("jane@one.com"))
		}
		if el := time.Since(start); el < 3*time.Minute || el > 4*time.Minute {
			t.Errorf("first address through after %v, want 3 min", el)
		}
		start = time.Now()
		r, _ = v.Verify(t.Context(), "joe@two.com")
		if r.Reason == ReasonGreylisted || asked("joe@two.com") != 2 {
			t.Errorf("second address: %v/%v after %d RCPTs, want it through at its first retry", r.Status, r.Reason, asked("joe@two.com"))
		}
		if el := time.Since(start); el < 150*time.Second || el > 3*time.Minute+10*time.Second {
			t.Errorf("second address through after %v, want the learned delay", el)
		}
	})
}
