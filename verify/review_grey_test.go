package verify

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The review of a40f1c7 and e4e5ef7 (rev-grey, /work/notes/rev-grey.md):
// a greylisting server in front of one that answers by place, with the
// lead probe's address reused as the kept pair's first.

// TestReviewGreyMatrix (a guard): greylisting combined with the other
// placeOpts set-ups (a lost lead probe, no PIPELINING, several sessions,
// one domain a transaction, a small MaxRcpts) and k of 1 to 4.
func TestReviewGreyMatrix(t *testing.T) {
	g := 20 * time.Second
	for _, k := range []int{1, 2, 4} {
		for name, o := range map[string]placeOpts{
			"drop":       {sizes: placeSizes[2], k: k, rate: 1000, grey: g, drop: true},
			"noPipe":     {sizes: placeSizes[0], k: k, rate: 1000, grey: g, noPipe: true},
			"perHost4":   {sizes: placeSizes[1], k: k, rate: 1000, grey: g, perHost: 4},
			"google":     {sizes: placeSizes[1], k: k, rate: 1000, grey: g, google: true, perHost: 2},
			"maxRcpts3":  {sizes: placeSizes[2], k: k, rate: 1000, grey: g, maxRcpts: 3},
			"rate2":      {sizes: placeSizes[0], k: k, rate: 2, grey: g},
			"dropNoPipe": {sizes: placeSizes[2], k: k, rate: 1000, grey: g, drop: true, noPipe: true},
		} {
			runPlace(t, fmt.Sprint(name, ",k=", k), o)
		}
	}
}

// twoCallCase verifies o.sizes' addresses twice with one Verifier: the
// first call at a server that answers honestly (o.k set to 0), the second
// after it turned to answering by place as o says (a failover to another
// backend behind the same address). It returns the second call's wrong
// deliverables; it fails on any wrong definite verdict of the first.
func twoCallCase(t *testing.T, o placeOpts, fresh bool) (wrong []string) {
	t.Helper()
	known, addrs := groupAddrs(o.sizes)
	k := o.k
	o.k = 0
	p := &placeServer{o: o}
	rules := map[string]domainRule{}
	var log []string
	for d := range o.sizes {
		rules[d] = func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
			r := p.rule(s, c, a)
			log = append(log, fmt.Sprintf("c%d %s %d", c.Index, a, r.Code))
			return r
		}
	}
	w, s := reviewWorld(t, known, rules)
	v := p.verifier(w, s)
	for call := range 2 {
		if call == 1 {
			p.mu.Lock()
			p.o.k = k
			p.mu.Unlock()
			time.Sleep(time.Minute) // the sessions of the first call are gone
			if fresh {
				v = w.verifier()
				v.PerHostRate, v.MaxRcpts, v.PerHost = o.rate, o.maxRcpts, o.perHost
				paced(v)
				if o.grey > 0 {
					v.GreylistMaxWait = 3 * o.grey
				}
			}
		}
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			bad := r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input]
			switch {
			case bad && call == 1 && r.Status == Deliverable:
				wrong = append(wrong, r.Input)
			case bad:
				t.Errorf("call %d: %s: %s/%s", call, r.Input, r.Status, r.Reason)
			}
		}
	}
	if len(wrong) > 0 && testing.Verbose() {
		t.Logf("the server's RCPTs, both calls:\n%s", strings.Join(log, "\n"))
	}
	return wrong
}

// TestReviewGreyFindingPairedAcrossCalls: the decided pair is kept per
// server address across calls (servers.go domainFacts.paired). A later
// call at a server that now answers by place sends one front, judged at
// run place 1; the list's addresses take the blind places and the canary
// after them is refused: proven. With greylisting the greylisted front
// does not count in the run, so the list's first address takes place 1
// and k=2 already reaches u2 (no mailbox).
func TestReviewGreyFindingPairedAcrossCalls(t *testing.T) {
	runTwoCalls(t, false)
}

// TestReviewGreyFreshVerifierSecondCall (a guard, green): the same two
// calls with a new Verifier for the second: the pair is due again, and
// nothing wrong comes of the server's change.
func TestReviewGreyFreshVerifierSecondCall(t *testing.T) { runTwoCalls(t, true) }

func runTwoCalls(t *testing.T, fresh bool) {
	for _, k := range []int{1, 2, 3, 4} {
		for _, grey := range []time.Duration{0, 20 * time.Second} {
			o := placeOpts{sizes: placeSizes[2], k: k, rate: 1000, grey: grey}
			t.Run(fmt.Sprint("k=", k, ",grey=", grey), func(t *testing.T) {
				for range placeTries {
					synctest.Test(t, func(t *testing.T) {
						if wrong := twoCallCase(t, o, fresh); len(wrong) > 0 {
							t.Errorf("second call: %d nonexistent addresses deliverable: %v", len(wrong), wrong)
						}
					})
				}
			})
		}
	}
}

// twoMXCase is placeCase with each domain's two MX hosts (preferences 10
// and 20) at the one server address; it returns the wrong deliverables.
func twoMXCase(t *testing.T, o placeOpts) (wrong []string) {
	t.Helper()
	known, addrs := groupAddrs(o.sizes)
	p := &placeServer{o: o}
	rules := map[string]domainRule{}
	for d := range o.sizes {
		rules[d] = p.rule
	}
	w, s := reviewWorld(t, known, rules)
	for d := range o.sizes {
		w.res.MX[d] = append(w.res.MX[d], &net.MX{Host: "mx2." + d, Pref: 20})
		w.res.IP["mx2."+d] = w.res.IP["mx."+d]
	}
	v := p.verifier(w, s)
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		switch {
		case r.Status == Deliverable && !known[r.Input]:
			wrong = append(wrong, r.Input)
		case r.Status == Undeliverable && known[r.Input]:
			t.Errorf("%s: %s/%s", r.Input, r.Status, r.Reason)
		}
	}
	return wrong
}

// TestReviewGreyTwoMXOneAddress (a guard): a domain's two MX hosts at
// one server address that greylists in front of answering by place.
func TestReviewGreyTwoMXOneAddress(t *testing.T) {
	for _, k := range []int{1, 2, 4} {
		for _, o := range []placeOpts{
			{sizes: placeSizes[2], k: k, rate: 1000, grey: 20 * time.Second},
			{sizes: placeSizes[1], k: k, rate: 1000, grey: 20 * time.Second, perHost: 4, drop: true},
			{sizes: placeSizes[0], k: k, rate: 1000, noPipe: true, grey: 20 * time.Second},
		} {
			t.Run(fmt.Sprint("k=", k, ",perHost=", o.perHost, ",noPipe=", o.noPipe), func(t *testing.T) {
				for range placeTries {
					synctest.Test(t, func(t *testing.T) {
						if wrong := twoMXCase(t, o); len(wrong) > 0 {
							t.Errorf("%d nonexistent addresses deliverable: %v", len(wrong), wrong)
						}
					})
				}
			})
		}
	}
}

// TestReviewGreyFindingSparesAccepted: spareAccepted's harvest
// protection behind greylisting (450 to each address for 20 s after its
// first RCPT, not counted by the protection), with and without
// PIPELINING, at a pace that waits and one that never does. Every address
// is greylisted first, so none was accepted before the protection's
// spell: the retries of all.com's existing addresses get its 5.1.1 lies
// and end undeliverable (with PIPELINING); without it, at a pace that
// never waits, a nonexistent all.com address ends deliverable.
func TestReviewGreyFindingSparesAccepted(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		for _, noPipe := range []bool{false, true} {
			for _, rate := range []float64{1000, 1e9} {
				t.Run(fmt.Sprint("n=", n, ",noPipe=", noPipe, ",rate=", rate), func(t *testing.T) {
					spare := spareAccepted(n)
					rule := func(s *sharedServer, c *testsmtp.Conn, a string, catchAll bool) testsmtp.Reply {
						if time.Since(s.first[a]) < 20*time.Second {
							return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
						}
						return spare(s, c, a, catchAll)
					}
					synctest.Test(t, func(t *testing.T) {
						twoDomainCase(t, rule, func(s *sharedServer, v *Verifier) {
							v.PerHostRate, v.GreylistMaxWait = rate, time.Minute
							if noPipe {
								s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
							}
						})
					})
				})
			}
		}
	}
}
