package verify

import (
	"fmt"
	"iter"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The lead.com worlds of the reviews of random addresses asked again
// (review_front4_test.go, review_f4rev*_test.go, review_f4b_test.go):
// their addresses, the order they come in, and how a case is judged.

// leadAddrs returns u0..u(n-1)@lead.com and which have a mailbox: all but
// every third (from o.missing), or where o.missing < 0 those from
// o.first on but every third (from 2).
func leadAddrs(o leadOpts) (known map[string]bool, addrs []string) {
	known = map[string]bool{}
	for i := range o.n {
		a := fmt.Sprintf("u%d@lead.com", i)
		known[a] = i%3 != o.missing
		if o.missing < 0 {
			known[a] = i >= o.first && i%3 != 2
		}
		addrs = append(addrs, a)
	}
	return known, addrs
}

// leadSeq yields addrs as the lead worlds feed them: the first o.first at
// once, the next at o.late, the rest o.spacing apart.
func leadSeq(o leadOpts, addrs []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i, a := range addrs {
			switch {
			case i == o.first:
				time.Sleep(o.late)
			case i > o.first:
				time.Sleep(o.spacing)
			}
			if !yield(a) {
				return
			}
		}
	}
}

// leadVerdicts verifies seq with v and returns the wrong definite
// verdicts and the deliverables. Verbose, it logs the server's RCPTs
// (log, under s.mu) where one is wrong or -front4.log is set.
func leadVerdicts(t *testing.T, v *Verifier, seq iter.Seq[string], known map[string]bool, s *sharedServer, log *[]string) (wrong []string, deliverable int) {
	for _, r := range v.VerifySeq(t.Context(), seq) {
		deliverable += boolInt(r.Status == Deliverable)
		if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
			wrong = append(wrong, fmt.Sprintf("%s %s/%s", r.Input, r.Status, r.Reason))
		}
		if *front4Log && testing.Verbose() {
			t.Logf("%s (exists %v): %s/%s catch_all=%v", r.Input, known[r.Input], r.Status, r.Reason, r.CatchAll)
		}
	}
	if (len(wrong) > 0 || *front4Log) && testing.Verbose() {
		s.mu.Lock()
		t.Logf("wrong %v; the server's RCPTs:\n%s", wrong, strings.Join(*log, "\n"))
		s.mu.Unlock()
	}
	return wrong, deliverable
}

// runCases runs run for each of os, each in a synctest bubble of its own
// named by name, fails each set-up that gave a wrong definite verdict,
// and returns how many did and the deliverables in all.
func runCases[O any](t *testing.T, os []O, name func(O) string, run func(*testing.T, O) ([]string, int)) (bad, deliverable int) {
	for _, o := range os {
		t.Run(name(o), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, d := run(t, o)
				deliverable += d
				if len(w) > 0 {
					bad++
					t.Errorf("wrong: %v (deliverable %d)", w, d)
				}
			})
		})
	}
	t.Logf("%d of %d set-ups wrong, %d deliverable", bad, len(os), deliverable)
	return bad, deliverable
}
