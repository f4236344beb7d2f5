package verify

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestTrailingProbesKeepEveryDeliverable: 2,000 existing mailboxes of 100
// domains on 20 servers, two sessions a server, fed in bursts as a
// service's worker gets them. Every acceptance needs a refusal of its
// domain after it in its transaction; the trailing probes that give it
// must land there, whatever the other session, the transaction's room
// and the error budget do. Before they were planned to fit one flush of
// the open transaction, 184 of these ended unknown/cannot_verify (the
// service's cluster test saw the same).
func TestTrailingProbesKeepEveryDeliverable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var all []string
		for i := range 2000 {
			all = append(all, fmt.Sprintf("user%d@d%d.com", i, i%100))
		}
		for k := range 20 {
			srv := testsmtp.Mailboxes(all...)
			srv.ReplyDelay = 2 * time.Millisecond
			ip := netip.AddrFrom4([4]byte{127, 0, 9, byte(k + 1)})
			w.res.IP[fmt.Sprintf("mx%d.com", k)] = []netip.Addr{ip}
			w.router[netip.AddrPortFrom(ip, 25).String()] = srv
		}
		for d := range 100 {
			w.res.MX[fmt.Sprintf("d%d.com", d)] = []*net.MX{{Host: fmt.Sprintf("mx%d.com", d%20), Pref: 10}}
		}
		v := w.verifier()
		v.PerHost, v.PerHostRate = 2, 2000
		in := func(yield func(string) bool) {
			for i, a := range all {
				if i%32 == 0 {
					time.Sleep(3 * time.Millisecond)
				}
				if !yield(a) {
					return
				}
			}
		}
		bad := 0
		for _, r := range v.VerifySeq(t.Context(), in) {
			if r.Status != Deliverable {
				if bad++; bad <= 3 {
					t.Errorf("%s: %v/%v catch_all %v", r.Input, r.Status, r.Reason, r.CatchAll)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d not deliverable", bad, len(all))
		}
	})
}
