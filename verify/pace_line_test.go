package verify

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestPaceWaitsInLine: two sessions share a server's bucket (1 RCPT/s).
// One waits for a flush of 9; the other asks for flushes of 4, one after
// another. The first to wait goes first: the flush of 9 goes when the
// bucket has 9 (9 s), and the flushes of 4 wait behind it. Before, each
// flush of 4 took the bucket first, its 4 tokens coming sooner, and the
// flush of 9 waited as long as the other session kept asking: a sparse
// domain's batch, or a greylisting retry, waited 39-53 s behind a dense
// domain's flushes (TestReviewGroupGreylistFoundLate).
func TestPaceWaitsInLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &Verifier{PerHostRate: 1}
		lim := v.newServerLimit()
		lim.rcpts.AllowN(time.Now(), batchSize) // the bucket is empty
		big, small := &pacer{lim: lim}, &pacer{lim: lim}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		done := make(chan time.Duration, 1)
		go func() {
			if err := big.pace(ctx, 9); err != nil {
				t.Error(err)
			}
			done <- time.Since(start)
		}()
		synctest.Wait() // the flush of 9 waits
		var smalls []time.Duration
		for range 6 {
			if err := small.pace(ctx, 4); err != nil {
				t.Fatal(err)
			}
			smalls = append(smalls, time.Since(start))
		}
		took := <-done
		t.Logf("the flush of 9 went after %v; the flushes of 4 after %v", took, smalls)
		if took > 10*time.Second {
			t.Errorf("the flush of 9 went after %v, behind flushes of 4 asked after it (at %v); want by 10 s", took, smalls)
		}
		if smalls[0] < took {
			t.Errorf("a flush of 4 asked after the flush of 9 began to wait went first (%v, %v)", smalls[0], took)
		}
	})
}

// TestPaceHeldRoomSkipsTheLine: a batch's trailing flush takes the room
// its session holds in the bucket at once, even while another session
// waits in line: a wait before it would make its acceptances be asked
// again (pacer.take).
func TestPaceHeldRoomSkipsTheLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &Verifier{PerHostRate: 1}
		lim := v.newServerLimit()
		holder, big := &pacer{lim: lim}, &pacer{lim: lim}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		if err := holder.take(ctx, 3, 4); err != nil { // a batch of 3, room for 4 after it
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := big.take(ctx, 9, 0); err != nil {
				t.Error(err)
			}
		}()
		synctest.Wait() // big waits in line: 7 tokens, 4 of them held
		if err := holder.take(ctx, 4, 0); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the trailing flush waited %v behind a session in line; want no wait", d)
		}
		holder.clear()
		<-done
	})
}

// TestPaceHoldCoversEveryFlush: a trailing probe on a server that does not
// pipeline goes one command a flush; hold takes the room for them all
// before the first, so none of them waits (a wait between them would
// leave the acceptances unproven, answer.near), and another session does
// not take that room meanwhile. Before hold, the first command's take
// gave back the room held, and the session behind took it.
func TestPaceHoldCoversEveryFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &Verifier{PerHostRate: 1}
		lim := v.newServerLimit()
		trail, other := &pacer{lim: lim}, &pacer{lim: lim}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := other.take(ctx, lim.rcpts.Burst()-4, 0); err != nil { // 4 tokens left
			t.Fatal(err)
		}
		if err := trail.hold(ctx, 4); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := other.take(ctx, 1, 0); err != nil { // waits for a token of its own
				t.Error(err)
			}
		}()
		synctest.Wait()
		start := time.Now()
		for range 4 {
			if err := trail.pace(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the held trail waited %v between its commands; want none", d)
		}
		if n := trail.count(); n != 0 {
			t.Errorf("%d waits counted for the trail; want 0", n)
		}
		trail.clear()
		<-done
	})
}
