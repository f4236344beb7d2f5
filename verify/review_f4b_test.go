package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The review of 67eecb5 (rev-f4b): an answer asked again speaks only for
// addresses first asked in the flush that first asked it. The worlds are
// learnCase's (review_f4rev_test.go) with a server whose memory is split
// otherwise than by the engine's flushes.

// memOpts is the set-up of a memCase: a learnOpts whose server keeps one
// memory per node behind its address (a load balancer: connection i
// goes to node i%nodes), or one memory of at most lru entries (the
// least recently used forgotten first; 0: no bound).
type memOpts struct {
	learnOpts
	nodes int
	lru   int
}

// memRule is learnRule (every deferral before o.c learned, phase C lets
// the first k past the memory through after judgeFirst judged) with the
// memory of memOpts.
func memRule(o memOpts) (domainRule, map[int]int, *[]string) {
	log := new([]string)
	nodes := max(o.nodes, 1)
	start, inTx := time.Now(), map[int]int{}
	neg := make([]map[string]bool, nodes)
	used := make([]map[string]int, nodes) // last use, for lru
	for i := range neg {
		neg[i], used[i] = map[string]bool{}, map[string]int{}
	}
	clock := 0
	learn := func(n int, a string, refused bool) {
		neg[n][a] = refused
		clock++
		used[n][a] = clock
		if o.lru > 0 && len(used[n]) > o.lru {
			old, at := "", 0
			for x, t := range used[n] {
				if old == "" || t < at {
					old, at = x, t
				}
			}
			delete(used[n], old)
			delete(neg[n], old)
		}
	}
	rule := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		n := c.Index % nodes
		r := func() testsmtp.Reply {
			since := time.Since(start)
			switch {
			case strings.HasPrefix(a, "postmaster@"):
				return testsmtp.R(250, "2.1.5", "Ok")
			case neg[n][a]:
				clock++
				used[n][a] = clock
				return s.honest(a)
			case since < o.c || o.greyFor > 0 && time.Since(s.first[a]) < o.greyFor:
				if since >= o.learnFrom {
					learn(n, a, !s.known[a])
				}
				return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
			}
			if inTx[c.Index]++; o.spell || inTx[c.Index] > o.judgeFirst && inTx[c.Index] <= o.judgeFirst+o.k {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			learn(n, a, !s.known[a])
			return s.honest(a)
		}()
		*log = append(*log, fmt.Sprintf("%s c%d(n%d) %s %d", time.Now().Format("04:05.000"), c.Index, n, a, r.Code))
		return r
	}
	return rule, inTx, log
}

// memCase is learnCase with memRule's server.
func memCase(t *testing.T, o memOpts) (wrong []string, deliverable int) {
	known, addrs := leadAddrs(o.leadOpts)
	rule, inTx, log := memRule(o)
	s, v := txCountWorld(t, known, "lead.com", rule, inTx, o.noPipe)
	return leadVerdicts(t, v, leadSeq(o.leadOpts, addrs), known, s, log)
}

// runMem runs memCase for each of os and returns the set-ups wrong and
// the deliverables in all.
func runMem(t *testing.T, os []memOpts) (bad, deliverable int) {
	return runCases(t, os, func(o memOpts) string {
		return fmt.Sprintf("k=%d,jf=%d,noPipe=%v,first=%d,sp=%v,late=%v,nodes=%d,lru=%d", o.k, o.judgeFirst, o.noPipe, o.first, o.spacing, o.late, o.nodes, o.lru)
	}, memCase)
}

// memSetups: first addresses at once (many: the first flush draws more
// deferrals than the error budget, so the session reconnects inside it),
// the rest from late on.
func memSetups(nodes, lru int) []memOpts {
	var os []memOpts
	for _, noPipe := range []bool{false, true} {
		for _, k := range []int{1, 2, 3} {
			for _, jf := range []int{0, 1} {
				for _, first := range []int{3, 9, 14, 20} {
					for _, late := range []time.Duration{20 * time.Second, 45 * time.Second} {
						o := learnOpts{leadOpts: leadOpts{c: 60 * time.Second, k: k, noPipe: noPipe, first: first, late: late, n: first + 6, spacing: 300 * time.Millisecond, missing: 0, judgeFirst: jf}}
						os = append(os, memOpts{learnOpts: o, nodes: nodes, lru: lru})
					}
				}
			}
		}
	}
	return os
}

// TestReviewF4bNodeMemory (fixed; soundness; at 9efb417 too): a server
// of two (or three) nodes behind one address, each with its own memory
// of what it deferred (connection i to node i%nodes); learnCase's phase
// C from 60 s. Without PIPELINING a first-ask flush can span a
// reconnection (the session reconnects before its error budget inside
// one Probe: Session.Room reports 1 without PIPELINING, so the batch is
// not bounded by the room left): its pair goes on one connection (one
// node learns it), its address on the next (the other node learns it).
// One case (nodes 2, k=1, jf=0, noPipe, first 14, late 20 s): pair
// nosoqtobani51@/naniinatohse3@ 450 450 on c7 (n1) at 21.23 s, then
// u18@ (no mailbox) 450 on c8 (n0) at 21.28 s, same flush (tick). Retry
// on c19 (n1) at 81.37 s: held pair 550 550 (n1's memory: decides for
// u18@'s flush, hostRun.pairedFor), u18@ 250 (n1 never learned it:
// blind), fresh canary 550 (judged): u18@lead.com deliverable/accepted.
// nodes=2: 0 to 3 of 96 set-ups wrong per run here (9 runs; timing
// decides whether a flush straddles), u18@ or u24@, all k=1 jf=0 noPipe;
// 9efb417: 6 of 96 in 3 of 3 runs (u15@). nodes=3: 0 of 96 here and at
// 9efb417. The memory boundary falls inside one flush (the stated limit
// of answer.frontsFor), but at a point the engine can see: the
// reconnection. Fixed: "first asked with it" is keyed by the flush and
// the connection (askKey): 0 of 96 in 4 runs of each. go test -count=3
// -run 'TestReviewF4bNodeMemory$' -v ./verify (-args -front4.log for the
// RCPTs, node in parentheses).
func TestReviewF4bNodeMemory(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint("nodes=", n), func(t *testing.T) { runMem(t, memSetups(n, 0)) })
	}
}

// TestReviewF4bLRUMemory (a guard, green here and at 9efb417): one
// memory of at most 8 (or 16) entries, the least recently used
// forgotten first: 0 of 96 wrong each, 0 deliverable (a weak guard: the
// churn leaves nothing proven) here and at 9efb417.
func TestReviewF4bLRUMemory(t *testing.T) {
	for _, n := range []int{8, 16} {
		t.Run(fmt.Sprint("lru=", n), func(t *testing.T) { runMem(t, memSetups(1, n)) })
	}
}

// TestReviewF4bHonestGreyPipelined (fixed at d871861, asserted: every
// verdict right, 234 of 234 in 2325 RCPTs; cost and liveness; claim 3
// of 67eecb5): TestReviewF4HonestGreyLiveness's honest greylisting
// world with PIPELINING only (12 set-ups: greylisting 60/120/300 s, 9
// or 30 addresses, 100 ms or 2 s apart). Deterministic (2 runs each):
//
//	            right of 234  RCPTs  60 s,n=30  120/300 s,n=9  120/300 s,n=30
//	here (f4)        42        5866   12, 12     0, 0           0, 0
//	9efb417          58        2298   20, 20     0, 0           0, 0
//	935cc28          125       1813   15, 16     7, 7           12, 12
//
// 935cc28 is fd65056 plus tests (67eecb5's parent). At 120/300 s, n=30,
// sp=2 s: 1790 RCPTs here (440 at 9efb417, 250 at 935cc28): from 73 s
// on each retry goes every 2 s with a fresh pair and the Detector's
// probe of 0 s (imatbiachomk2@, 447 RCPTs) until all end
// unknown/greylisted at 1:57, before the greylisting (120 s from each
// first RCPT) would pass; u1@ is asked 25 times here, 10 at 9efb417, 3
// at 935cc28 (0, 60 s, 6:00, and deliverable). The wait had doubled
// once per retry (each first flush's addresses retry on their own) and
// the Detector kept 8 deferred probes. go test -count=1 -run
// 'TestReviewF4bHonestGreyPipelined$' -v ./verify (-args -front4.log
// for the RCPTs).
func TestReviewF4bHonestGreyPipelined(t *testing.T) {
	right, rcpts, all := 0, 0, 0
	for _, grey := range []time.Duration{60 * time.Second, 120 * time.Second, 300 * time.Second} {
		for _, n := range []int{9, 30} {
			for _, sp := range []time.Duration{100 * time.Millisecond, 2 * time.Second} {
				o := learnOpts{leadOpts: leadOpts{first: 3, late: 5 * time.Second, n: n, spacing: sp, missing: 0, greyFor: grey}, learnFrom: time.Hour}
				t.Run(fmt.Sprintf("grey=%v,n=%d,sp=%v", grey, n, sp), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						got, sent, took := honestGreyCase(t, o)
						right, rcpts, all = right+got, rcpts+sent, all+n
						t.Logf("%d of %d right, %d RCPTs, last result at %v", got, n, sent, took)
					})
				})
			}
		}
	}
	t.Logf("%d of %d right, %d RCPTs in all", right, all, rcpts)
	if right < all || rcpts > 2*2298 {
		t.Errorf("%d of %d right in %d RCPTs: want every verdict right, in no more than twice 9efb417's RCPTs (58 of 234 right, 2298 RCPTs)", right, all, rcpts)
	}
}

// TestReviewF4bMemorySweep (a guard, green here and at 9efb417: 0 of
// 1872 set-ups wrong each): TestReviewF4LearnLate and
// TestReviewF4NegCacheExpiry with the server's memory boundary swept:
// learning begun from 1 s to 49 s (4 s apart), and refusals forgotten
// 20 s to 80 s after learned (5 s apart).
func TestReviewF4bMemorySweep(t *testing.T) {
	var bad, all int
	for from := time.Second; from < 50*time.Second; from += 4 * time.Second {
		t.Run(fmt.Sprint("learnFrom=", from), func(t *testing.T) {
			os := learnSetups(from)
			b, _ := runLearn(t, os)
			bad, all = bad+b, all+len(os)
		})
	}
	for ttl := 20 * time.Second; ttl <= 80*time.Second; ttl += 5 * time.Second {
		t.Run(fmt.Sprint("negTTL=", ttl), func(t *testing.T) {
			os := learnSetups(0)
			for i := range os {
				os[i].negTTL = ttl
			}
			b, _ := runLearn(t, os)
			bad, all = bad+b, all+len(os)
		})
	}
	t.Logf("%d of %d set-ups wrong", bad, all)
}
