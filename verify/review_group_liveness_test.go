package verify

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The liveness findings of the review of the batch planning by domain
// (rev-group F2 and F3, /work/notes/rev-group.md), fixed. Both failed
// intermittently: scheduling inside synctest decides which of the
// server's two sessions takes the sparse domain's batch.
//
// The cause was not groupOrder: in every failing run traced, the sparse
// domain's address had been taken into a batch within the first
// milliseconds, and that batch then waited in pacer.takeChunk for
// 39-53 s. Two sessions shared the server's bucket (1 RCPT/s); the one
// holding the sparse domain's batch waited for 9 tokens while the other
// session's flushes, whose tokens came sooner, took the bucket each time
// first (7 tries in one 39 s wait). A greylisting retry taken into such a
// batch waited the same way: the retry due at 60 s that "was not sent by
// 100 s". Sessions now wait for the pace in line (holds.line).

// TestReviewGroupSparseDomainNotHeld: at a rate-bound server (1 RCPT/s)
// busy with a dense domain, a one-address domain read 101st is no longer
// sent first (densest first); it goes in a flush's leftover room or once
// maxHold (30 s) passed since it was read. Its queue time does not count
// in Timeout (Verifier.Timeout's doc), so the bound checked is maxHold +
// 5 s. Seen at 3920eda (-count=10): 27 ms (6), 15 s (2), 39 s, 53 s; at
// 6b59621: up to 64 s.
func TestReviewGroupSparseDomainNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known, dense := groupAddrs(map[string]int{"dense.com": 300})
		known["jane@lone.com"] = true
		addrs := slices.Concat(dense[:100], []string{"jane@lone.com"}, dense[100:])
		w, s := reviewWorld(t, known, map[string]domainRule{"dense.com": nil, "lone.com": nil})
		s.rules = nil
		s.srv.Latency = 10 * time.Millisecond
		v := w.verifier()
		v.PerHostRate = 1 // no Timeout: at 1 RCPT/s half the jobs would end unknown/timeout in flight (as at 6b59621)
		start := time.Now()
		var lone, all time.Duration
		statuses := map[string]int{}
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			statuses[fmt.Sprint(r.Status, "/", r.Reason)]++
			if r.Reason == "" {
				t.Errorf("%s: %s without a reason", r.Input, r.Status)
			}
			if r.Input == "jane@lone.com" {
				lone = time.Since(start)
				if r.Status != Deliverable {
					t.Errorf("%s: %s/%s, want deliverable", r.Input, r.Status, r.Reason)
				}
			}
		}
		all = time.Since(start)
		t.Logf("jane@lone.com after %v, all %d after %v: %v", lone, len(addrs), all, statuses)
		if lone > maxHold+5*time.Second {
			t.Errorf("jane@lone.com ended %v after it was read: held past maxHold (%v) behind dense.com", lone, maxHold)
		}
	})
}

// TestReviewGroupGreylistFoundLate: at a rate-bound server (1 RCPT/s)
// busy with a dense domain, a greylisting one-address domain read 101st
// must have its first RCPT early, so that its retry (GreylistDelay, 1
// minute) fits the caller's 100 s. The domain lets RCPTs through 45 s
// after its first one. Seen at 3920eda: first RCPT at 21 ms, 12-26 s,
// 39 s and 93 s, 3 of 12 runs failed; once the first RCPT came at 21 ms
// and the retry due at 60 s was not sent by 100 s. At 6b59621 up to 64 s,
// 5 of 12 failed.
func TestReviewGroupGreylistFoundLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known, dense := groupAddrs(map[string]int{"dense.com": 300})
		known["jane@grey.com"] = true
		addrs := slices.Concat(dense[:100], []string{"jane@grey.com"}, dense[100:])
		var log []string // grey.com's RCPTs
		t0 := time.Now()
		w, s := reviewWorld(t, known, map[string]domainRule{"dense.com": (*sharedServer).honestRule, "grey.com": func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			log = append(log, fmt.Sprint(time.Since(t0).Round(time.Second), " ", a))
			at, ok := s.seen["grey.com"]
			if !ok {
				s.seen["grey.com"], at = time.Now(), time.Now()
			}
			if time.Since(at) < 45*time.Second {
				return testsmtp.R(451, "4.7.1", "<"+a+">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.com.html")
			}
			return s.honest(a)
		}})
		s.srv.Latency = 10 * time.Millisecond
		v := w.verifier()
		v.PerHostRate = 1
		v.GreylistMaxWait = 0 // the default, 6 minutes (the world's is a nanosecond)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
		defer cancel()
		start := time.Now()
		for _, r := range v.VerifyAll(ctx, addrs) {
			if r.Input != "jane@grey.com" {
				continue
			}
			s.mu.Lock()
			first := s.first["jane@grey.com"].Sub(start)
			dom := s.seen["grey.com"].Sub(start)
			s.mu.Unlock()
			t.Logf("%s: %s/%s after %v, its first RCPT at %v, grey.com's at %v", r.Input, r.Status, r.Reason, time.Since(start), first, dom)
			if r.Status != Deliverable {
				s.mu.Lock()
				t.Logf("grey.com's RCPTs: %v", log)
				s.mu.Unlock()
				t.Errorf("%s: %s/%s, want deliverable: its first RCPT came %v after it was read, the retry a minute later did not fit the caller's 100 s", r.Input, r.Status, r.Reason, first)
			}
		}
	})
}

// TestReviewGroupConnLimitBlindFirst: a server that takes n RCPTs a
// connection (421 after them, then closes) and accepts the first k of
// each connection blindly: a chunk sized for a new connection's flush
// meets the connection's end, and its front, addresses and canary may

// TestGroupOrderClasses: where groupOrder puts each group at a server
// whose pace binds: greylisting retries due first, then groups that
// waited maxHold (the longest waiting first, a recent flush of the run
// counting as the start of its wait, except where the host greylists
// the domain), then the densest first; the retries and the groups that
// waited twice maxHold go now, in part if need be. Where the pace does
// not bind: retries first, the rest in queue order.
func TestGroupOrderClasses(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	runs := map[string]*hostRun{}
	var jobs []*job
	add := func(d string, n int, read time.Duration, retried bool) {
		if runs[d] == nil {
			runs[d] = &hostRun{d: &domainState{name: d}}
		}
		for range n {
			jobs = append(jobs, &job{run: runs[d], start: now.Add(-read), greyRetried: retried})
		}
	}
	add("dense.com", 20, 5*time.Minute, false)   // read long ago, flushed 2 s ago
	add("old1.com", 1, 40*time.Second, false)    // waited 40 s
	add("mid.com", 6, 10*time.Second, false)     // not old
	add("old2.com", 2, 50*time.Second, false)    // waited 50 s
	add("grey.com", 1, 3*time.Minute, true)      // a retry due
	add("small.com", 1, 1*time.Second, false)    // not old
	add("stale.com", 3, 4*time.Minute, false)    // flushed 35 s ago: waited 35 s
	add("ancient.com", 2, 70*time.Second, false) // waited twice maxHold and more
	add("greyish.com", 4, 45*time.Second, false) // its host greylists it: waits from its reading
	runs["greyish.com"].greySince = now.Add(-time.Minute)
	q := &hostQueue{served: map[*hostRun]time.Time{
		runs["dense.com"]:   now.Add(-2 * time.Second),
		runs["stale.com"]:   now.Add(-35 * time.Second),
		runs["greyish.com"]: now.Add(-time.Second),
	}}
	names := func(gs [][]int) []string {
		var out []string
		for _, g := range gs {
			out = append(out, jobs[g[0]].run.d.name)
		}
		return out
	}
	gs, n := groupOrder(q, jobs, true, now)
	want := []string{"grey.com", "ancient.com", "old2.com", "greyish.com", "old1.com", "stale.com", "dense.com", "mid.com", "small.com"}
	if got := names(gs); !slices.Equal(got, want) || n != 2 {
		t.Errorf("paced: %v, %d go now; want %v, 2", got, n, want)
	}
	gs, n = groupOrder(q, jobs, false, now)
	want = []string{"grey.com", "dense.com", "old1.com", "mid.com", "old2.com", "small.com", "stale.com", "ancient.com", "greyish.com"}
	if got := names(gs); !slices.Equal(got, want) || n != 1 {
		t.Errorf("not paced: %v, %d go now; want %v, 1", got, n, want)
	}
}
