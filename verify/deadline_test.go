package verify

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestRetryOpenKeepsTheDeadline: Timeout counts from an address's first
// SMTP attempt, greylisting retries included, so a retry whose new
// session hangs in EHLO ends at the address's deadline, not a whole
// Timeout after the retry began.
func TestRetryOpenKeepsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"RCPT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
				return testsmtp.R(450, "4.2.0", "Greylisted, see http://postgrey.schweikert.ch/help/x.html")
			},
			"EHLO": func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
				if c.Index > 0 {
					time.Sleep(30 * time.Second) // the retry's session hangs
				}
				return testsmtp.Reply{Code: 250, Lines: []string{"testsmtp", "PIPELINING"}}
			},
		}}
		w := newWorld()
		defer w.router.close()
		w.add("grey.com", srv)
		v := w.verifier()
		v.Timeout, v.GreylistDelay, v.GreylistMaxWait, v.CommandTimeout = 10*time.Second, 5*time.Second, time.Minute, time.Minute
		start := time.Now()
		r := verifyAll(t, v, []string{"jane@grey.com"})["jane@grey.com"]
		if el := time.Since(start); el > 10*time.Second+100*time.Millisecond {
			t.Errorf("took %v; Timeout is 10s from the first attempt", el)
		}
		if r.Status != Unknown || r.Reason != ReasonGreylisted && r.Reason != ReasonTimeout {
			t.Errorf("%v/%v, want unknown/greylisted or timeout", r.Status, r.Reason)
		}
	})
}

// Issue 22, defect 4: the server greylists only the random catch-all
// address (its triplet for the real one passed long ago). The accepted
// address ends at its deadline, unknown/cannot_verify with catch_all
// unknown, not after the probe's retry.
func TestGreylistedProbeKeepsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if rcptAddress(cmd.Arg) == "jane@grey.com" {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(450, "4.2.0", "Greylisted, see http://postgrey.schweikert.ch/help/grey.com.html")
		}}}
		w := newWorld()
		defer w.router.close()
		w.add("grey.com", srv)
		v := w.verifier()
		v.Timeout, v.GreylistDelay, v.GreylistMaxWait = 10*time.Second, time.Minute, 6*time.Minute
		start := time.Now()
		r, err := v.Verify(t.Context(), "jane@grey.com")
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 10*time.Second+100*time.Millisecond {
			t.Errorf("took %v with Timeout 10s", el)
		}
		if r.Status != Unknown || r.Reason != ReasonCannotVerify || r.CatchAll != catchall.Unknown {
			t.Errorf("%v/%v catch_all %v, want unknown/cannot_verify, catch_all unknown", r.Status, r.Reason, r.CatchAll)
		}
	})
}

// Issue 22, defect 5: an address whose first MX refuses the connection
// joins the tail of its second MX's queue, behind another domain's
// backlog on a slow server. It still ends by its deadline.
func TestReroutedJobKeepsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := testsmtp.Mailboxes()
		slow.ReplyDelay = time.Second
		w := newWorld()
		defer w.router.close()
		w.add("busy.com", slow)
		w.res.MX["moved.com"] = nil
		w.addHost("moved.com", "mx1.moved.com", 1, nil) // first, and nothing listens
		delete(w.router, w.res.IP["mx1.moved.com"][0].String()+":25")
		w.res.MX["moved.com"] = append(w.res.MX["moved.com"], w.res.MX["busy.com"][0])
		v := w.verifier()
		v.Timeout, v.PerHost, v.Concurrency = 5*time.Second, 1, 2
		var addrs []string
		for i := range 40 {
			addrs = append(addrs, fmt.Sprintf("user%d@busy.com", i))
		}
		addrs = append(addrs, "jane@moved.com")
		start := time.Now()
		for i, r := range v.VerifyAll(t.Context(), addrs) {
			if addrs[i] != "jane@moved.com" {
				continue
			}
			if el := time.Since(start); el > 5*time.Second+100*time.Millisecond {
				t.Errorf("jane@moved.com after %v with Timeout 5s (%v/%v)", el, r.Status, r.Reason)
			}
			if r.Status != Unknown {
				t.Errorf("jane@moved.com: %v/%v", r.Status, r.Reason)
			}
		}
	})
}

// A retry timer that fired while it was being stopped, and runs after a
// newer one was armed, does not take the newer one's place (found by
// reading: the parked jobs went back to the queue before their time).
func TestStaleUnparkTimerDoesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t.Context(), &Verifier{})
		d := &domainState{name: "grey.com"}
		hr := &hostRun{e: e, d: d, key: "127.0.0.1:25"}
		j := &job{run: hr, d: d, dlIndex: -1, at: atParked}
		e.mu.Lock()
		hr.parked, hr.pending = []*job{j}, 1
		hr.sched = &schedule{end: time.Now().Add(time.Hour), last: time.Now(), delay: time.Minute}
		hr.arm(time.Now().Add(time.Minute))
		stale := hr.timerGen
		hr.stopTimer()
		hr.arm(time.Now().Add(30 * time.Minute)) // the newer plan
		e.mu.Unlock()
		e.wg.Add(1)      // as the first timer's arming did
		hr.unpark(stale) // its callback, late
		e.mu.Lock()
		if len(hr.parked) != 1 || e.queues[hr.key] != nil {
			t.Errorf("the stale timer unparked: parked %d, queued %v", len(hr.parked), e.queues[hr.key] != nil)
		}
		hr.stopTimer()
		e.mu.Unlock()
		e.mu.Lock()
		e.inputDone = true
		e.checkDone()
		e.mu.Unlock()
	})
}
