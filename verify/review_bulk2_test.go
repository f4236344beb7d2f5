package verify

import (
	"context"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The attacks of the second review of #24 (the RCPTs held in a server's
// bucket for a batch's trailing flush, c95af20). See
// /work/notes/rev-bulk2.md.

// TestHeldRoomDoesNotStallAnotherStream: a Verifier is safe for
// concurrent use, and its per-server limits are shared by every
// VerifySeq on it. Stream 1's session sends a batch that ends in
// refusals (no trailing flush follows, so the room held for one stays
// held) and then waits for its consumer, which reads nothing until
// stream 2 is done. Stream 2 asks the same server, with the second of
// PerHost sessions, and must not wait for stream 1's consumer: its 10
// addresses at 10 RCPTs a second take about two seconds.
func TestHeldRoomDoesNotStallAnotherStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known := map[string]bool{}
		var one, two []string
		for i := range 9 {
			one = append(one, fmt.Sprintf("nobody%d@stream-one.com", i))
		}
		for i := range 10 {
			a := fmt.Sprintf("u%d@stream-two.com", i)
			known[a] = true
			two = append(two, a)
		}
		w, srv := reviewWorld(t, known, map[string]domainRule{"stream-one.com": (*sharedServer).honestRule, "stream-two.com": (*sharedServer).honestRule})
		v := w.verifier()
		v.PerHost, v.PerHostRate = 2, 10
		release := make(chan struct{})
		oneDone := make(chan int)
		go func() {
			n := 0
			for range v.VerifySeq(t.Context(), slicesAll(one)) {
				<-release // reads one result, then waits
				n++
			}
			oneDone <- n
		}()
		// Stream 1 runs until its session waits for the consumer.
		time.Sleep(5 * time.Second)
		srv.mu.Lock()
		t.Logf("stream 1 has sent %d RCPTs", len(srv.times))
		srv.mu.Unlock()
		start := time.Now()
		done := make(chan int, 1)
		go func() {
			n := 0
			for range v.VerifySeq(t.Context(), slicesAll(two)) {
				n++
			}
			done <- n
		}()
		select {
		case n := <-done:
			done <- n
			if n != len(two) {
				t.Errorf("stream 2: %d results for %d addresses", n, len(two))
			}
			t.Logf("stream 2 took %v", time.Since(start))
		case <-time.After(5 * time.Minute):
			t.Errorf("stream 2 (10 addresses, 10 RCPTs/s) not done after 5 min: it waits for room stream 1 holds while its consumer reads nothing")
		}
		// Stream 1's consumer reads now: everything ends.
		close(release)
		if n := <-oneDone; n != len(one) {
			t.Errorf("stream 1: %d results for %d addresses", n, len(one))
		}
		<-done
	})
}

// TestOddPerHostRates: PerHostRate is a float64. Validate refuses NaN
// and +Inf (TestMisconfiguration); a rate it lets through may not hang a
// run or give a wrong verdict.
func TestOddPerHostRates(t *testing.T) {
	for _, r := range []float64{math.NaN(), math.Inf(1), 0.5} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				known, addrs := everyThird(30, "odd-rate.com")
				w, _ := reviewWorld(t, known, map[string]domainRule{"odd-rate.com": (*sharedServer).honestRule})
				v := w.verifier()
				v.PerHostRate = r
				if err := v.Validate(); err != nil {
					t.Logf("Validate: %v", err)
					return
				}
				done := make(chan int, 1)
				start := time.Now()
				go func() {
					n := 0
					for _, r := range v.VerifyAll(t.Context(), addrs) {
						if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
							t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
						}
						n++
					}
					done <- n
				}()
				select {
				case n := <-done:
					if n != len(addrs) {
						t.Errorf("%d results for %d addresses", n, len(addrs))
					}
					t.Logf("%d results in %v", n, time.Since(start))
				case <-time.After(10 * time.Minute):
					t.Fatalf("PerHostRate %v: 30 addresses not verified in 10 min", r)
				}
			})
		})
	}
}

// TestHeldRoomDeadlockAcrossStreams: two VerifySeq runs on one Verifier
// share its catch-all Detector (a question being asked is waited for, not
// asked twice) and its per-server limits. Stream 2 spends the bucket on a
// catch-all domain, then takes a batch of two new domains (8 RCPTs with
// their probes, and room for 2 trailing probes) that waits for the pace
// with shared-d.com's catch-all question begun. Stream 1 then sends one
// address of shared-d.com: its flush needs 2 RCPTs of tokens, gets them
// first, holds one for its trailing probe and waits in the Detector for
// stream 2's answer. Stream 2's flush needs 8 + 2 beside the held one: 11
// of a burst of 10, for ever. Both consumers read; neither stream ends.
func TestHeldRoomDeadlockAcrossStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known := map[string]bool{"v0@shared-d.com": true}
		var catchy, dom []string
		for i := range 18 {
			catchy = append(catchy, fmt.Sprintf("c%d@catchy.com", i))
		}
		for i := range 6 {
			a := fmt.Sprintf("u%d@shared-d.com", i)
			if i >= 3 {
				a = fmt.Sprintf("u%d@shared-e.com", i)
			}
			known[a] = i%3 != 2
			dom = append(dom, a)
		}
		w, _ := reviewWorld(t, known, map[string]domainRule{
			"catchy.com":   func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply { return testsmtp.R(250, "2.1.5", "Ok") },
			"shared-d.com": (*sharedServer).honestRule,
			"shared-e.com": (*sharedServer).honestRule,
		})
		v := w.verifier()
		v.PerHost, v.PerHostRate = 2, 10
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		run := func(in iter.Seq[string], done chan<- int) {
			n := 0
			for _, r := range v.VerifySeq(ctx, in) {
				if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
					t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
				}
				n++
			}
			done <- n
		}
		done1, done2 := make(chan int, 1), make(chan int, 1)
		// Stream 2: the catch-all domain drains the bucket, then a full
		// batch of shared-d.com with its catch-all probe waits for it.
		go run(func(yield func(string) bool) {
			for _, a := range catchy {
				if !yield(a) {
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
			for _, a := range dom {
				if !yield(a) {
					return
				}
			}
		}, done2)
		time.Sleep(time.Second)
		go run(slicesAll([]string{"v0@shared-d.com"}), done1)
		timeout := time.After(5 * time.Minute)
		for _, s := range []struct {
			name string
			done chan int
			n    int
		}{{"stream 1", done1, 1}, {"stream 2", done2, len(catchy) + len(dom)}} {
			select {
			case n := <-s.done:
				if n != s.n {
					t.Errorf("%s: %d results for %d addresses", s.name, n, s.n)
				}
			case <-timeout:
				t.Errorf("%s not done after 5 min (25 addresses in all at 10 RCPTs/s): a held RCPT and a catch-all question wait for each other", s.name)
				cancel()
				<-s.done
			}
		}
	})
}

// TestSharedLimitsAcrossStreams counts at one server address what the
// limits promise when three VerifySeq runs on one Verifier go there at
// once, each with its own domains (honest, catch-all, a closer that
// answers 421 after 4 RCPTs of a connection, greylisting, a cap of 3
// RCPTs a transaction with "550 Rejected"): the server never has more
// than PerHost connections open, the RCPTs keep to burst 10 + PerHostRate
// a second, no verdict is wrong, every address comes out once, and no
// room stays held in the bucket when the runs are over.
func TestSharedLimitsAcrossStreams(t *testing.T) {
	for _, perHost := range []int{1, 3} {
		for _, rate := range []float64{8, 0.5} {
			t.Run(fmt.Sprintf("PerHost=%d,rate=%v", perHost, rate), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { checkLimitsAcrossStreams(t, perHost, rate) })
			})
		}
	}
}

func checkLimitsAcrossStreams(t *testing.T, perHost int, rate float64) {
	known := map[string]bool{}
	rules := map[string]domainRule{}
	streams := make([][]string, 3)
	for d := range 15 {
		dom := fmt.Sprintf("s%d-dom%d.com", d%3, d)
		for i := range 7 + d {
			a := fmt.Sprintf("u%d@%s", i, dom)
			known[a] = i%4 != 3
			streams[d%3] = append(streams[d%3], a)
		}
		switch d % 5 {
		case 1:
			rules[dom] = func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply { return testsmtp.R(250, "2.1.5", "Ok") }
		case 2:
			rules[dom] = func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
				k := fmt.Sprint("conn", c.Index)
				if s.count[k]++; s.count[k] > 4 {
					return testsmtp.R(421, "4.7.0", "Too many commands, closing")
				}
				return s.honest(a)
			}
		case 3:
			rules[dom] = greyRule(70 * time.Second)
		case 4:
			rules[dom] = func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
				if c.Rcpts >= 3 {
					return testsmtp.R(550, "", "Rejected")
				}
				return s.honest(a)
			}
		default:
			rules[dom] = (*sharedServer).honestRule
		}
	}
	w, s := reviewWorld(t, known, rules)
	shared := netip.AddrPortFrom(w.res.IP["mx.names.com"][0], 25).String()
	dial := &countingDialer{routes: w.router}
	ad := &addrDialer{inner: dial, open: map[string]int{}, most: map[string]int{}}
	v := w.verifier()
	v.Dialer, v.Concurrency, v.PerHost, v.PerHostRate = ad, 4, perHost, rate
	v.GreylistDelay, v.GreylistMaxWait, v.Timeout = time.Minute, 5*time.Minute, 3*time.Minute
	var wg sync.WaitGroup
	for k, in := range streams {
		wg.Go(func() {
			time.Sleep(time.Duration(k) * 300 * time.Millisecond)
			seen := map[int]int{}
			for i, r := range v.VerifySeq(t.Context(), slicesAll(in)) {
				seen[i]++
				if r.Input != in[i] {
					t.Errorf("stream %d: result %d is for %s, want %s", k, i, r.Input, in[i])
				}
				if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
					t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
				}
			}
			if len(seen) != len(in) {
				t.Errorf("stream %d: %d positions of %d came out", k, len(seen), len(in))
			}
			for i, n := range seen {
				if n != 1 {
					t.Errorf("stream %d: position %d came out %d times", k, i, n)
				}
			}
		})
	}
	wg.Wait()
	if m := ad.most[shared]; m > perHost {
		t.Errorf("the client had %d connections open at once to the shared server, PerHost is %d", m, perHost)
	}
	if m := s.srv.MaxOpen(); m > perHost {
		t.Errorf("the shared server had %d connections open at once, PerHost is %d", m, perHost)
	}
	v.mu.Lock()
	for addr, h := range v.hosts {
		h.limit.held.mu.Lock()
		if h.limit.held.n != 0 {
			t.Errorf("%s: %d RCPTs still held in the bucket after every run ended", addr, h.limit.held.n)
		}
		h.limit.held.mu.Unlock()
	}
	v.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, j, ok := overPace(s.times, rate); !ok {
		t.Errorf("%d RCPTs in %v, the promise is at most 10 + %v/s", j-i+1, s.times[j].Sub(s.times[i]), rate)
	}
	t.Logf("%d RCPTs at the shared server, %d connections", len(s.times), s.srv.Connections())
}

// TestHeldRoomReleasedAfterFailures: batches whose flushes break (the
// server hangs, drops or resets the connection mid-batch), time out or
// are cancelled leave no room held in the server's bucket: after the run,
// nothing is held, and a fresh run of 10 addresses there goes at once.
func TestHeldRoomReleasedAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known := map[string]bool{}
		rules := map[string]domainRule{}
		var first, second []string
		kinds := []func(n int) testsmtp.Reply{
			func(n int) testsmtp.Reply { return testsmtp.Reply{Hang: n == 3} },
			func(n int) testsmtp.Reply { return testsmtp.Reply{Drop: n == 2} },
			func(n int) testsmtp.Reply { return testsmtp.Reply{Reset: n == 4} },
			func(n int) testsmtp.Reply { return testsmtp.Reply{Delay: time.Duration(n) * time.Second} },
		}
		for d, kind := range kinds {
			dom := fmt.Sprintf("broken%d.com", d)
			rules[dom] = func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
				k := fmt.Sprint(dom, c.Index)
				s.count[k]++
				r := kind(s.count[k])
				if r.Hang || r.Drop || r.Reset || r.Delay > 0 {
					r.Code, r.Lines = 250, []string{"Ok"}
					return r
				}
				return s.honest(a)
			}
			for i := range 12 {
				a := fmt.Sprintf("u%d@%s", i, dom)
				known[a] = i%3 != 2
				first = append(first, a)
			}
		}
		// postmaster@ is accepted, as RFC 5321 asks: a refusal followed
		// only by addresses accepted before counts by it (hostRun.record).
		rules["after.com"] = func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
			if len(a) > 11 && a[:11] == "postmaster@" {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return s.honestRule(c, a)
		}
		for i := range 10 {
			a := fmt.Sprintf("u%d@after.com", i)
			known[a] = i%3 != 2
			second = append(second, a)
		}
		w, _ := reviewWorld(t, known, rules)
		v := w.verifier()
		v.PerHost, v.PerHostRate, v.Timeout, v.CommandTimeout = 2, 10, 20*time.Second, 3*time.Second
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(7*time.Second, cancel)
		n, t0, seen := 0, time.Now(), map[string]int{}
		for _, r := range v.VerifySeq(ctx, slicesAll(first)) {
			n++
			seen[fmt.Sprintf("%s/%s", r.Status, r.Reason)]++
			if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
				t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
			}
		}
		if n != len(first) {
			t.Errorf("%d results for %d addresses", n, len(first))
		}
		t.Logf("the first run took %v: %v", time.Since(t0), seen)
		time.Sleep(time.Second) // the sessions close
		v.mu.Lock()
		for addr, h := range v.hosts {
			h.limit.held.mu.Lock()
			if h.limit.held.n != 0 {
				t.Errorf("%s: %d RCPTs still held in the bucket after the run", addr, h.limit.held.n)
			}
			h.limit.held.mu.Unlock()
		}
		v.mu.Unlock()
		start := time.Now()
		for _, r := range v.VerifyAll(t.Context(), second) {
			if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] || r.Status == Unknown {
				t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a fresh run of 10 addresses took %v", d)
		}
	})
}
