package verify

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// frontsBefore counts the RCPTs of random addresses (neither addr nor
// postmaster@) that came right before addr in its transaction, from the
// server's transcript: the fronts its flush carried.
func frontsBefore(lines []string, addr string) int {
	n := 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "C: MAIL") || strings.HasPrefix(l, "C: RSET"):
			n = 0
		case l == "C: RCPT TO:<"+addr+">":
			return n
		case strings.HasPrefix(l, "C: RCPT TO:<") && !strings.Contains(l, "postmaster@"):
			n++
		}
	}
	return -1
}

// TestPairAgainEachCall: a domain's front pair decided in one Verify
// call is sent again by the next call of the same Verifier: a server
// that answered honestly then may answer by place now
// (TestReviewGreyFindingPairedAcrossCalls), and only a pair of the call
// shows otherwise. Both acceptances are proven.
func TestPairAgainEachCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		srv := testsmtp.Mailboxes("a@x.com", "b@x.com")
		w.add("x.com", srv)
		v := w.verifier()
		for _, a := range []string{"a@x.com", "b@x.com"} {
			if r, _ := v.Verify(t.Context(), a); r.Status != Deliverable {
				t.Fatalf("%s: %s/%s (%v)", a, r.Status, r.Reason, r.Err)
			}
		}
		tr := srv.Transcript()
		for _, a := range []string{"a@x.com", "b@x.com"} {
			if n := frontsBefore(tr, a); n != 2 {
				t.Errorf("the flush had %d random addresses before %s, want 2 (the pair)", n, a)
			}
		}
	})
}

// TestPlaceMarkRememberedAcrossCalls: a server seen to answer by place
// (on b.com) in one call proves no acceptance in the next call of the same
// Verifier, on a.com, where it answers honestly and that call alone would
// have proven them: the mark is the server's.
func TestPlaceMarkRememberedAcrossCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := placeOpts{sizes: map[string]int{"mark-honest.com": 3, "b.com": 6}, only: "b.com", k: 1, rate: 1000}
		known, _ := groupAddrs(o.sizes)
		p := &placeServer{o: o}
		w, s := reviewWorld(t, known, map[string]domainRule{"mark-honest.com": p.rule, "b.com": p.rule})
		p.install(s)
		v := w.verifier()
		v.PerHostRate = o.rate
		var b, a []string
		for addr := range known {
			switch {
			case strings.HasSuffix(addr, "@b.com"):
				b = append(b, addr)
			case known[addr]:
				a = append(a, addr)
			}
		}
		marked := false
		for _, r := range v.VerifyAll(t.Context(), b) {
			marked = marked || r.Err == errByPlace
			if r.Status == Deliverable && !known[r.Input] {
				t.Errorf("%s: deliverable, no such mailbox", r.Input)
			}
		}
		if !marked {
			t.Fatalf("the first call did not see the server answer by place")
		}
		for _, r := range v.VerifyAll(t.Context(), a) {
			if r.Status == Deliverable || r.Err != errByPlace {
				t.Errorf("%s: %s/%s (%v), want unknown for the server's mark", r.Input, r.Status, r.Reason, r.Err)
			}
		}
		fresh := w.verifier()
		fresh.PerHostRate = o.rate
		for _, r := range fresh.VerifyAll(t.Context(), a) {
			if r.Status != Deliverable {
				t.Errorf("a new Verifier: %s: %s/%s (%v), want deliverable (the server is honest on a.com)", r.Input, r.Status, r.Reason, r.Err)
			}
		}
	})
}
