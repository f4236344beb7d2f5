package verify

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The review of f09fe5d (rev-front3): held fronts and held front pairs
// at a greylisting host (heldfront.go), in worlds the earlier reviews did
// not build: several domains on one server address (PerHost > 1), one
// address per Verify call. The server is rev-front's negCacheServer
// (review_front_test.go), phase 2 from its connection phase2At on.

var front3Log = flag.Bool("front3.log", false, "log the server's RCPTs")

// multiOpts is the set-up of a multiCase.
type multiOpts struct {
	cacheOpts
	doms     int  // domains on the server address
	single   bool // one Verify call per address, in order
	phase2At int  // the server's phase 2 from this connection index on
	// phase2After: phase 2 from this time on instead (0: by phase2At)
	phase2After time.Duration
	// tooMany: in phase 1 the server answers recipients of a
	// transaction past tooMany 452 4.5.3 without looking at them (0: none)
	tooMany int
}

// multiCase verifies u0..u(n-1) of each of o.doms domains (every third
// has no mailbox) at one negCacheServer and returns the wrong definite
// verdicts and the deliverables.
func multiCase(t *testing.T, o multiOpts, n int) (wrong []string, deliverable int) {
	var doms []string
	for i := range o.doms {
		doms = append(doms, fmt.Sprintf("d%d.com", i))
	}
	known, addrs := everyThird(n, doms...)
	ns := &negCacheServer{o: o.cacheOpts, inTx: map[int]int{}}
	start, inTx := time.Now(), map[int]int{}
	rule := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		ns.mu.Lock()
		ns.phase2 = c.Index >= o.phase2At
		if o.phase2After > 0 {
			ns.phase2 = time.Since(start) >= o.phase2After
		}
		if inTx[c.Index]++; !ns.phase2 && o.tooMany > 0 && inTx[c.Index] > o.tooMany && !strings.HasPrefix(a, "postmaster@") {
			ns.log = append(ns.log, fmt.Sprintf("%s c%d %s 452", time.Now().Format("15:04:05.000"), c.Index, a))
			ns.mu.Unlock()
			return testsmtp.R(452, "4.5.3", "Error: too many recipients")
		}
		ns.mu.Unlock()
		return ns.rule(s, c, a)
	}
	rules := map[string]domainRule{}
	for _, d := range doms {
		rules[d] = rule
	}
	w, s := reviewWorld(t, known, rules)
	s.srv.Latency = 10 * time.Millisecond
	reset := func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
		ns.mu.Lock()
		ns.inTx[c.Index], inTx[c.Index] = 0, 0
		ns.mu.Unlock()
		return testsmtp.R(250, "2.1.0", "Ok")
	}
	s.srv.Handlers["MAIL"], s.srv.Handlers["RSET"] = reset, reset
	if o.noPipe {
		s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
	}
	v := w.verifier()
	v.PerHostRate, v.GreylistMaxWait, v.PerHost, v.MaxRcpts = 1000, 6*time.Minute, o.perHost, o.maxRcpts
	paced(v)
	check := func(r Result) {
		deliverable += boolInt(r.Status == Deliverable)
		if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
			wrong = append(wrong, fmt.Sprintf("%s %s/%s", r.Input, r.Status, r.Reason))
		}
	}
	if o.single {
		for _, a := range addrs {
			r, err := v.Verify(t.Context(), a)
			if err != nil {
				t.Fatal(err)
			}
			check(r)
		}
	} else {
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			check(r)
		}
	}
	if (len(wrong) > 0 || *front3Log) && testing.Verbose() {
		ns.mu.Lock()
		t.Logf("wrong %v; the server's RCPTs:\n%s", wrong, strings.Join(ns.log, "\n"))
		ns.mu.Unlock()
	}
	return wrong, deliverable
}

// TestReviewFront3MultiDomainGuard (a guard, green here): negCacheServer
// (probeAtGrey or not, k = 1..3, with and without PIPELINING, phase 2
// from the second or third connection) serving 1 or 3 domains at one
// server address, PerHost 1 or 3: no wrong definite verdict in 96
// set-ups.
func TestReviewFront3MultiDomainGuard(t *testing.T) {
	var os []multiOpts
	for _, doms := range []int{1, 3} {
		for _, perHost := range []int{1, 3} {
			for _, k := range []int{1, 2, 3} {
				for _, pag := range []bool{false, true} {
					for _, noPipe := range []bool{false, true} {
						for _, p2 := range []int{1, 2} {
							os = append(os, multiOpts{cacheOpts: cacheOpts{k: k, probeAtGrey: pag, noPipe: noPipe, perHost: perHost}, doms: doms, phase2At: p2})
						}
					}
				}
			}
		}
	}
	bad := 0
	for _, o := range os {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, d := multiCase(t, o, 9)
				t.Logf("deliverable %d", d)
				if len(w) > 0 {
					bad++
					t.Errorf("wrong: %v (deliverable %d)", w, d)
				}
			})
		})
	}
	t.Logf("%d of %d set-ups wrong", bad, len(os))
}

// TestReviewFront3TooManyGuard (a guard, green here): multiCase where
// phase 1 answers 452 4.5.3 past the first 2, 3 or 5 recipients of a
// transaction without looking at them (an address first asked no later
// than a front's deferral that the server learned nothing of), phase 2
// from 50 ms to 10 s: no wrong definite verdict in 72 set-ups (the 452
// addresses are asked again at once and deferred, so learned).
func TestReviewFront3TooManyGuard(t *testing.T) {
	bad, all := 0, 0
	for _, tm := range []int{2, 3, 5} {
		for _, k := range []int{1, 2, 3} {
			for _, noPipe := range []bool{false, true} {
				for _, p2 := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 2 * time.Second, 10 * time.Second} {
					o := multiOpts{cacheOpts: cacheOpts{k: k, probeAtGrey: true, noPipe: noPipe}, doms: 1, phase2After: p2, tooMany: tm}
					all++
					bad += boolInt(!checkMulti(t, o, 9))
				}
			}
		}
	}
	t.Logf("%d of %d set-ups wrong", bad, all)
}

// abcOpts is the set-up of an abcCase.
type abcOpts struct {
	b, c   time.Duration // phase B from b on, phase C from c on
	k      int           // phase C: the first k recipients of a transaction past the cache go through
	late   time.Duration // when the third group comes
	noPipe bool
	// missing: u(3i+missing)@ has no mailbox
	missing int
	// spacing: between the arrivals of u6..u11@
	spacing time.Duration
	// bMissing: in group B, u3@ and u4@ have no mailbox, u5@ has
	bMissing bool
}

// abcCase verifies, at one server of abc.com, u0..u2@abc.com at once,
// u3..u5@ at o.b+10s and u6..u11@ from o.late on, o.spacing apart (every
// third has no mailbox, or as o.bMissing says).
// The server: phase A honest; phase B defers every address and learns
// its answer meanwhile; phase C lets the first k recipients of a
// transaction that its cache does not refuse through. Every refusal is
// kept (the negative cache) and given again first. It returns the wrong
// definite verdicts.
func abcCase(t *testing.T, o abcOpts) (wrong []string, deliverable int) {
	known, addrs := map[string]bool{}, []string{}
	for i := range 12 {
		a := fmt.Sprintf("u%d@abc.com", i)
		known[a] = i%3 != o.missing
		if o.bMissing && i >= 3 && i < 6 {
			known[a] = i == 5 // group B: u3@ and u4@ have no mailbox
		}
		addrs = append(addrs, a)
	}
	var log []string
	start, neg, inTx := time.Now(), map[string]bool{}, map[int]int{}
	rule := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		r := func() testsmtp.Reply {
			since := time.Since(start)
			switch {
			case strings.HasPrefix(a, "postmaster@"):
				return testsmtp.R(250, "2.1.5", "Ok")
			case neg[a]:
				return s.honest(a)
			case since >= o.b && since < o.c:
				neg[a] = !s.known[a]
				return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
			case since >= o.c:
				if inTx[c.Index]++; inTx[c.Index] <= o.k {
					return testsmtp.R(250, "2.1.5", "Ok")
				}
			}
			neg[a] = !s.known[a]
			return s.honest(a)
		}()
		log = append(log, fmt.Sprintf("%s c%d %s %d", time.Now().Format("04:05.000"), c.Index, a, r.Code))
		return r
	}
	s, v := txCountWorld(t, known, "abc.com", rule, inTx, o.noPipe)
	seq := func(yield func(string) bool) {
		for i, a := range addrs {
			switch i {
			case 3:
				time.Sleep(o.b + 10*time.Second)
			case 6:
				time.Sleep(o.late - o.b - 10*time.Second)
			case 7, 8, 9, 10, 11:
				time.Sleep(o.spacing)
			}
			if !yield(a) {
				return
			}
		}
	}
	for _, r := range v.VerifySeq(t.Context(), seq) {
		deliverable += boolInt(r.Status == Deliverable)
		if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
			wrong = append(wrong, fmt.Sprintf("%s %s/%s", r.Input, r.Status, r.Reason))
		}
	}
	if (len(wrong) > 0 || *front3Log) && testing.Verbose() {
		s.mu.Lock()
		t.Logf("wrong %v; the server's RCPTs:\n%s", wrong, strings.Join(log, "\n"))
		s.mu.Unlock()
	}
	return wrong, deliverable
}

// TestReviewFront3PhasesPipelinedGuard (a guard, green here): abcCase
// with PIPELINING, k = 1..5, the third group arriving around the
// retry of the second: no wrong definite verdict in 165 set-ups (a
// fronting answer must be in the acceptance's flush there, and a flush
// carrying first-asked addresses carries a fresh front). Without
// PIPELINING see TestReviewFront3FindingCachedRetryFronts.
func TestReviewFront3PhasesPipelinedGuard(t *testing.T) {
	bad, all := 0, 0
	for _, k := range []int{1, 2, 3, 4, 5} {
		for _, noPipe := range []bool{false} {
			for _, missing := range []int{0, 1, 2} {
				for late := 99900 * time.Millisecond; late <= 100100*time.Millisecond; late += 20 * time.Millisecond {
					o := abcOpts{b: 30 * time.Second, c: 90 * time.Second, k: k, late: late, noPipe: noPipe, missing: missing, spacing: 15 * time.Millisecond}
					all++
					t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
						synctest.Test(t, func(t *testing.T) {
							w, d := abcCase(t, o)
							t.Logf("deliverable %d", d)
							if len(w) > 0 {
								bad++
								t.Errorf("wrong: %v (deliverable %d)", w, d)
							}
						})
					})
				}
			}
		}
	}
	t.Logf("%d of %d set-ups wrong", bad, all)
}

// TestReviewFront3FindingCachedRetryFronts (fixed: a list address asked
// again fronts only addresses first asked no later than it, answer.frontsFor,
// and a sandwich's answers are filed so; soundness; failed at
// 7dfca3d too): a list address asked again after a deferral is answered
// from a negative cache and fronts a blind acceptance. The held fronts'
// bound (answer.frontsFor) is on random addresses only; in
// hostRun.fronted any judged answer of the domain before an acceptance
// in its transaction fronts it, and a list address's answer has
// heldTick 0. abcCase, without PIPELINING, k = 1: phase A (honest) to
// 30 s decides the pair; phase B (30-90 s) defers every address and
// learns its answer meanwhile; phase C lets the first recipient of a
// transaction its cache does not refuse through. u3@, u4@ (no mailbox)
// and u5@ come at 40 s and are deferred (learned); u6@ (no mailbox)..u11@
// come one by one from about 100.1 s, as u3..u5@'s retry goes, and join
// its transaction: held pair (550 from the cache, fronts only
// addresses asked by 40 s), u3@ 550 from the cache, u6@ 250 (first past
// the cache: blind), canary 550 (judged). No fresh front goes for u6@
// (engine.fronts: the host judged the domain earlier in the open
// transaction, u3@'s cached refusal), and u3@'s refusal fronts it:
// u6@abc.com deliverable/accepted (or u9@). Here 7 of 24 set-ups
// (spacing 5, 15, 40 ms; the third group from 100.08 to 100.22 s), the
// same 7 in 3 runs; at 7dfca3d 8 of 24. With PIPELINING (k = 3, the
// third group 2 ms apart from 99.98 to 100.01 s), u4@'s retry and u6@'s
// first ask share a flush: fresh front (blind), u4@ 550 from the cache,
// u5@ (blind), u6@ 250 (blind), canary 550: u6@ deliverable in 7 of 7
// here (the fresh front does not help: accepted, it is before u4@'s
// refusal); 7 of 7 at 7dfca3d. Reproduce: remove the skip, go
// test -count=1 -run TestReviewFront3FindingCachedRetryFronts -v
// ./verify
func TestReviewFront3FindingCachedRetryFronts(t *testing.T) {
	var os []abcOpts
	for _, sp := range []int{5, 15, 40} {
		for late := 100080 * time.Millisecond; late <= 100220*time.Millisecond; late += 20 * time.Millisecond {
			os = append(os, abcOpts{k: 1, late: late, noPipe: true, spacing: time.Duration(sp) * time.Millisecond})
		}
	}
	for late := 99980 * time.Millisecond; late <= 100010*time.Millisecond; late += 5 * time.Millisecond {
		os = append(os, abcOpts{k: 3, late: late, spacing: 2 * time.Millisecond})
	}
	bad := map[bool]int{}
	for _, o := range os {
		o.b, o.c, o.bMissing = 30*time.Second, 90*time.Second, true
		t.Run(fmt.Sprintf("k=%d,noPipe=%v,spacing=%v,late=%v", o.k, o.noPipe, o.spacing, o.late), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if w, d := abcCase(t, o); len(w) > 0 {
					bad[o.noPipe]++
					t.Errorf("wrong: %v (deliverable %d)", w, d)
				}
			})
		})
	}
	t.Logf("set-ups wrong: %d of 24 without PIPELINING, %d of 7 with", bad[true], bad[false])
}

// TestReviewFront3SingleCallsGuard (a guard): multiCase with one Verify
// call per address, in order.
func TestReviewFront3SingleCallsGuard(t *testing.T) {
	bad, all := 0, 0
	for _, k := range []int{1, 2, 3} {
		for _, pag := range []bool{false, true} {
			for _, noPipe := range []bool{false, true} {
				for _, p2 := range []int{1, 2, 4} {
					o := multiOpts{cacheOpts: cacheOpts{k: k, probeAtGrey: pag, noPipe: noPipe}, doms: 1, phase2At: p2, single: true}
					all++
					bad += boolInt(!checkMulti(t, o, 6))
				}
			}
		}
	}
	t.Logf("%d of %d set-ups wrong", bad, all)
}

// checkMulti runs multiCase for o with size addresses in a subtest of
// its own, fails it on a wrong definite verdict, and reports whether it
// had none.
func checkMulti(t *testing.T, o multiOpts, size int) bool {
	ok := true
	t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w, d := multiCase(t, o, size)
			t.Logf("deliverable %d", d)
			if len(w) > 0 {
				ok = false
				t.Errorf("wrong: %v (deliverable %d)", w, d)
			}
		})
	})
	return ok
}

// txCountWorld puts domain, answered by rule, on a review world's server
// (10 ms a reply, PIPELINING unless noPipe) whose MAIL and RSET zero
// inTx[conn] under s.mu, and returns it with a Verifier at 1000 RCPT/s
// waiting up to 6 minutes for greylisting.
func txCountWorld(t *testing.T, known map[string]bool, domain string, rule domainRule, inTx map[int]int, noPipe bool) (*sharedServer, *Verifier) {
	w, s := reviewWorld(t, known, map[string]domainRule{domain: rule})
	s.srv.Latency = 10 * time.Millisecond
	reset := func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
		s.mu.Lock()
		inTx[c.Index] = 0
		s.mu.Unlock()
		return testsmtp.R(250, "2.1.0", "Ok")
	}
	s.srv.Handlers["MAIL"], s.srv.Handlers["RSET"] = reset, reset
	if noPipe {
		s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
	}
	v := w.verifier()
	v.PerHostRate, v.GreylistMaxWait = 1000, 6*time.Minute
	paced(v)
	return s, v
}
