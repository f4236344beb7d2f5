package verify

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The second review of #24's attacks on the gaps between an acceptance
// and the trailing probe that proves it (answer.waits counts only waits
// for the pace). See /work/notes/rev-bulk2.md.

// softRate is the previous review's rate-based anti-harvest rule
// (softrate.com in TestSharedServerVerdictsAreSound) with its window as a
// parameter: while the client sent more than 5 RCPTs in the last window,
// 250 for everyone; honest again once it slows down.
func softRate(window time.Duration) domainRule {
	return func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		recent := 0
		for _, at := range s.times {
			if time.Since(at) < window {
				recent++
			}
		}
		if recent > 5 {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return s.honest(a)
	}
}

// TestRateSpellEndsWithinRoundTrip: the same server, a round trip away
// (the pace never binds here, so no flush waits for it). The batch
// reaches the server at once and its tail is accepted by the spell; the
// trailing probe comes a round trip later, when the spell is over, and
// its 5.1.1 "proves" the acceptances before it. answer.waits counts only
// waits for the pace: the round trip is a gap too, in which the server
// switches just the same. With a window of 100 ms it takes a distant or
// slow server (300 ms); a server that looks for bursts (more than 5
// RCPTs within 1 ms: a pipelined batch) does it at a LAN's 2 ms.
func TestRateSpellEndsWithinRoundTrip(t *testing.T) {
	for _, tc := range []struct{ rtt, window time.Duration }{
		{0, 100 * time.Millisecond},
		{300 * time.Millisecond, 100 * time.Millisecond},
		{2 * time.Millisecond, time.Millisecond},
	} {
		t.Run(fmt.Sprintf("rtt=%v,window=%v", tc.rtt, tc.window), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				known, addrs := everyThird(12, "softrate2.com")
				w, s := reviewWorld(t, known, map[string]domainRule{"softrate2.com": softRate(tc.window)})
				s.srv.Latency = tc.rtt
				v := w.verifier()
				v.PerHostRate = 1000
				for _, r := range v.VerifyAll(t.Context(), addrs) {
					t.Logf("%s (exists %v): %s/%s", r.Input, known[r.Input], r.Status, r.Reason)
					switch {
					case r.Status == Deliverable && !known[r.Input]:
						t.Errorf("%s: deliverable, but there is no such mailbox", r.Input)
					case r.Status == Undeliverable && known[r.Input]:
						t.Errorf("%s: undeliverable (%s), but the mailbox exists", r.Input, r.Reason)
					}
				}
			})
		})
	}
}

// TestDetectorWaitIsAGap: the gap between an acceptance and its trailing
// probe need not be a round trip or a pace wait: the engine makes one
// itself. Stream 2 spends most of the bucket on a catch-all domain (7
// addresses and the probe) and begins
// spell-d.com's catch-all question with a batch that waits for the pace.
// Stream 1 asks v0@spell-d.com (no such mailbox) right after the drain,
// while the server's spell (more than 8 RCPTs of the client in the last
// 150 ms: 250 for everyone) is on; its session then waits in the Detector
// for stream 2's answer, about 400 ms, and only then sends its trailing
// probe, into the same transaction with no pace wait between: the spell
// is long over, the probe gets 5.1.1 and "proves" the acceptance.
func TestDetectorWaitIsAGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known := map[string]bool{"u0@spell-d.com": true}
		var catchy []string
		for i := range 7 {
			catchy = append(catchy, fmt.Sprintf("c%d@catchy.com", i))
		}
		spell := func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			recent := 0
			for _, at := range s.times {
				if time.Since(at) < 150*time.Millisecond {
					recent++
				}
			}
			if recent > 8 {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return s.honest(a)
		}
		w, _ := reviewWorld(t, known, map[string]domainRule{
			"catchy.com":  func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply { return testsmtp.R(250, "2.1.5", "Ok") },
			"spell-d.com": spell,
		})
		v := w.verifier()
		v.PerHost, v.PerHostRate = 2, 10
		check := func(r Result) {
			t.Logf("%s (exists %v): %s/%s", r.Input, known[r.Input], r.Status, r.Reason)
			switch {
			case r.Status == Deliverable && !known[r.Input]:
				t.Errorf("%s: deliverable, but there is no such mailbox", r.Input)
			case r.Status == Undeliverable && known[r.Input]:
				t.Errorf("%s: undeliverable (%s), but the mailbox exists", r.Input, r.Reason)
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			in := func(yield func(string) bool) {
				for _, a := range catchy {
					if !yield(a) {
						return
					}
				}
				time.Sleep(50 * time.Millisecond)
				for _, a := range []string{"u0@spell-d.com", "u1@spell-d.com"} {
					if !yield(a) {
						return
					}
				}
			}
			for _, r := range v.VerifySeq(t.Context(), in) {
				check(r)
			}
		}()
		time.Sleep(100 * time.Millisecond)
		for _, r := range v.VerifyAll(t.Context(), []string{"v0@spell-d.com"}) {
			check(r)
		}
		<-done
	})
}
