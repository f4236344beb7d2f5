package verify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestTrickledInputWaitsForCatchAllInFlight feeds addresses in bursts, as
// a service's worker gets them: an acceptance on one session while the
// domain's catch-all probe is in flight on another must wait for that
// answer, not end unknown/cannot_verify. Before the fix, 3 to 8 of the
// 400 did.
func TestTrickledInputWaitsForCatchAllInFlight(t *testing.T) {
	w := newWorld()
	var all []string
	for i := range 400 {
		all = append(all, fmt.Sprintf("user%d@d%d.com", i, i%20))
	}
	srv := testsmtp.Mailboxes(all...)
	srv.ReplyDelay = 5 * time.Millisecond
	ip := netip.MustParseAddr("127.0.9.1")
	w.res.IP["mx.shared.com"] = []netip.Addr{ip}
	w.router[netip.AddrPortFrom(ip, 25).String()] = srv
	for d := range 20 {
		w.res.MX[fmt.Sprintf("d%d.com", d)] = []*net.MX{{Host: "mx.shared.com", Pref: 10}}
	}
	v := w.verifier()
	v.MaxRcpts = 20
	paced(v)
	v.PerHostRate = 1000
	paced(v)
	in := func(yield func(string) bool) {
		for i, a := range all {
			if i%32 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			if !yield(a) {
				return
			}
		}
	}
	bad := 0
	for _, r := range v.VerifySeq(context.Background(), in) {
		if r.Status != Deliverable {
			bad++
			if bad < 3 {
				t.Logf("%s: %s/%s catch_all %s", r.Input, r.Status, r.Reason, r.CatchAll)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of 400 not deliverable", bad)
	}
}
