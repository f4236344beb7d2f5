package verify

import (
	"context"
	"log/slog"
	"time"
)

// reserve is the time kept back at the end of a budget for the last
// greylisting retry's session to run.
const reserve = 5 * time.Second

// A schedule plans greylisting retries inside the budget: the first as
// soon as the server's stated delay allows (or after GreylistDelay when it
// states none), then with doubling waits, and one last try at the end of
// the budget, since a greylisting delay shorter than the budget has passed
// by then.
type schedule struct {
	end      time.Time     // no retry after this
	earliest time.Time     // the server's stated delay ends; zero when it stated none
	last     time.Time     // the last try
	delay    time.Duration // the wait after the last try
}

// newSchedule plans from the first greylisting at first, with the wait
// the server stated (zero for none), within GreylistMaxWait and ctx.
func (v *Verifier) newSchedule(ctx context.Context, first time.Time, stated time.Duration) *schedule {
	s := &schedule{
		end:   first.Add(orDefault(v.GreylistMaxWait, 6*time.Minute)),
		last:  first,
		delay: orDefault(v.GreylistDelay, time.Minute),
	}
	if dl, ok := ctx.Deadline(); ok && dl.Add(-reserve).Before(s.end) {
		s.end = dl.Add(-reserve)
	}
	if stated > 0 {
		s.earliest = first.Add(stated + time.Second)
	}
	return s
}

// next returns when to try again, or false when no try fits the budget.
func (s *schedule) next() (time.Time, bool) {
	at := s.last.Add(s.delay)
	if at.Before(s.earliest) {
		at = s.earliest
	}
	if at.After(s.end) {
		// One last try at the end of the budget, if the server's own delay
		// is over by then and the try is not on the heels of the last.
		if s.end.Before(s.earliest) || s.end.Sub(s.last) < s.delay/4 {
			return time.Time{}, false
		}
		at = s.end
	}
	return at, true
}

// tried records a try at now and doubles the next wait.
func (s *schedule) tried(now time.Time) {
	s.last, s.delay = now, 2*s.delay
}

// retryAfter is when trying again makes sense, seen from now: the end of
// the server's stated delay when it is still ahead, else the next wait.
func (s *schedule) retryAfter(now time.Time) time.Duration {
	if s.earliest.After(now) {
		return s.earliest.Sub(now)
	}
	return s.delay
}

// retryGreylisted retries the host's greylisted jobs, and a greylisted
// catch-all probe, on new sessions as the schedule allows; then it settles
// what is left. Jobs still greylisted keep that outcome with retry_after.
func (hr *hostRun) retryGreylisted(ctx context.Context) {
	v := hr.d.v
	sched := v.newSchedule(ctx, hr.greySince, hr.stated)
	for len(hr.grey) > 0 || hr.deferred {
		at, ok := sched.next()
		if !ok || !sleepUntil(ctx, at) {
			break
		}
		v.logger().LogAttrs(ctx, slog.LevelDebug, "greylist retry", slog.String("domain", hr.d.domain),
			slog.String("host", hr.host.Name), slog.Int("addresses", len(hr.grey)))
		jobs := hr.grey
		hr.grey = nil
		hr.last = true
		hr.session(ctx, jobs)
		sched.tried(time.Now())
		hr.stated = 0 // the server's delay, once waited out, holds no longer
		sched.earliest = time.Time{}
		hr.emitReady(false)
	}
	now := time.Now()
	for _, j := range hr.grey {
		j.res.RetryAfter = Seconds(sched.retryAfter(now))
		hr.decided = append(hr.decided, j)
	}
	hr.grey, hr.deferred = nil, false
	hr.emitReady(true)
}

// sleepUntil waits until t, or reports false when ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
