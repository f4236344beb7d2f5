package verify

import (
	"log/slog"
	"slices"
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
	doubled  time.Time     // the try whose failure doubled delay
}

// newSchedule plans from the first greylisting at first, with the wait
// the server stated (zero for none) or else the delay learned at the
// server (zero for none), within GreylistMaxWait and the deadline dl
// (zero for none), less the reserve.
func (v *Verifier) newSchedule(first time.Time, stated, learned time.Duration, dl time.Time) *schedule {
	s := &schedule{
		end:   first.Add(orDefault(v.GreylistMaxWait, 6*time.Minute)),
		last:  first,
		delay: firstWait(v, stated, learned),
	}
	if !dl.IsZero() && dl.Add(-reserve).Before(s.end) {
		s.end = dl.Add(-reserve)
	}
	if stated > 0 {
		s.earliest = first.Add(stated + time.Second)
	}
	return s
}

// firstWait is the wait before the first retry: the server's stated delay
// (and a second), or else the delay learned at the server address, or
// else GreylistDelay.
func firstWait(v *Verifier, stated, learned time.Duration) time.Duration {
	switch {
	case stated > 0:
		return stated + time.Second
	case learned > 0:
		return learned
	}
	return orDefault(v.GreylistDelay, time.Minute)
}

// firstWait is the host's wait before a greylisted address's first retry.
// e.mu is held.
func (hr *hostRun) firstWait() time.Duration {
	return firstWait(hr.e.v, hr.stated, hr.e.v.greylisting(hr.key))
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

// tried records a try at now; the server's stated delay, once waited
// out, holds no longer.
func (s *schedule) tried(now time.Time) {
	s.last, s.earliest = now, time.Time{}
}

// failed doubles the next wait: a retry was greylisted again, so the
// server's delay is longer than the wait. One round of tries doubles it
// once, however many of its addresses come back greylisted: the tries
// within half a wait of the one that doubled it (the addresses of each
// first flush go in a retry of their own, batch.go). (Addresses first
// greylisted after the host's first try, retried by timers of their own,
// double nothing while their first wait passes.)
func (s *schedule) failed() {
	if s.doubled.IsZero() || s.last.Sub(s.doubled) >= s.delay/4 {
		s.delay, s.doubled = 2*s.delay, s.last
	}
}

// retryAfter is when trying again makes sense, seen from now: the end of
// the server's stated delay when it is still ahead, else the next wait.
func (s *schedule) retryAfter(now time.Time) time.Duration {
	if s.earliest.After(now) {
		return s.earliest.Sub(now)
	}
	return s.delay
}

// deadline is the latest deadline that bounds the greylisted work of hr:
// the caller's, and the parked jobs' own. Zero means none.
func (hr *hostRun) deadline() time.Time {
	var dl time.Time
	if d, ok := hr.e.ctx.Deadline(); ok {
		dl = d
	}
	var jobs time.Time
	for _, j := range hr.parked {
		if j.deadline.IsZero() {
			return dl
		}
		if j.deadline.After(jobs) {
			jobs = j.deadline
		}
	}
	if dl.IsZero() || !jobs.IsZero() && jobs.Before(dl) {
		return jobs
	}
	return dl
}

// park holds the greylisted jobs (and a greylisted probe) out of every
// queue until the schedule's next try, when they go back to the host's
// queue; with no try left in the budget, they are settled greylisted. It
// returns the jobs to send. e.mu is held.
func (hr *hostRun) park() []*job {
	if hr.timer != nil {
		// A retry is planned already; those whose own budget is over
		// had their last try (hostRun.jobEnd).
		if hr.sched == nil {
			return nil
		}
		return hr.settleOver(time.Now())
	}
	if hr.sched == nil {
		hr.sched = hr.e.v.newSchedule(hr.greySince, hr.stated, hr.e.v.greylisting(hr.key), hr.deadline())
	}
	if hr.e.ctx.Err() != nil {
		return hr.giveUp()
	}
	// Each address waits GreylistMaxWait from its own first greylisting,
	// not from the domain's: an address of a domain greylisting for long
	// (its addresses read one after another, the domain never leaving the
	// run) first greylisted near the domain's budget's end would be tried
	// once, sooner than the server's delay, and end greylisted. Those whose
	// own budget is over are settled; the schedule lasts as long as the
	// latest of the others'.
	now := time.Now()
	out := hr.settleOver(now)
	if len(hr.parked) == 0 && !hr.deferred {
		return out
	}
	for _, j := range hr.parked {
		if end := hr.jobEnd(j); end.After(hr.sched.end) {
			hr.sched.end = end
		}
	}
	at, ok := hr.sched.next()
	if !ok {
		return append(out, hr.giveUp()...)
	}
	hr.schedAt = at // greylisted addresses wait for it (hostRun.jobDue)
	for _, j := range hr.parked {
		// The last try of an address whose budget ends before the
		// schedule's next.
		if end := hr.jobEnd(j); end.Before(at) && end.After(hr.sched.last) {
			at = end
		}
	}
	hr.arm(at)
	return out
}

// jobEnd is the end of j's own greylisting budget: GreylistMaxWait from
// its first greylisting, within the caller's deadline and its own, less
// the reserve; or its latest retry, where that came on the heels of the
// end (as the schedule's last try would not, schedule.next): that was its
// last. e.mu is held.
func (hr *hostRun) jobEnd(j *job) time.Time {
	end := j.greyAt.Add(orDefault(hr.e.v.GreylistMaxWait, 6*time.Minute))
	dl, _ := hr.e.ctx.Deadline()
	if !j.deadline.IsZero() && (dl.IsZero() || j.deadline.Before(dl)) {
		dl = j.deadline
	}
	if !dl.IsZero() && dl.Add(-reserve).Before(end) {
		end = dl.Add(-reserve)
	}
	if !j.retriedAt.IsZero() && hr.sched != nil && end.Sub(j.retriedAt) < hr.sched.delay/4 {
		return j.retriedAt
	}
	return end
}

// jobDue is when j, greylisted, is due: the first wait after its first
// greylisting, and no sooner than the host's scheduled try (one asked
// before it would fail a try and double the wait, schedule.failed) nor,
// at a host that defers random addresses, than a held front that may
// front it (hostRun.coverDue); or its budget's end if sooner. e.mu is
// held.
func (hr *hostRun) jobDue(j *job, first time.Duration) time.Time {
	at, end := j.greyAt.Add(first), hr.jobEnd(j)
	var again time.Time // a retry deferred again waits the schedule's wait from it
	if !j.retriedAt.IsZero() && hr.sched != nil {
		again = j.retriedAt.Add(hr.sched.delay)
	}
	for _, t := range []time.Time{hr.schedAt, hr.coverDue(j), again} {
		if t.After(at) {
			at = t
		}
	}
	if at.Before(end) {
		return at
	}
	return end
}

// settleOver settles greylisted the parked jobs whose own budget is over
// at now (jobEnd): they had their last try. It returns what to send.
// e.mu is held.
func (hr *hostRun) settleOver(now time.Time) []*job {
	keep := hr.parked[:0]
	n := 0
	for _, j := range hr.parked {
		if now.Before(hr.jobEnd(j)) {
			keep = append(keep, j)
			continue
		}
		j.res.RetryAfter = Seconds(hr.sched.retryAfter(now))
		hr.pending--
		hr.decided = append(hr.decided, j)
		j.at = atDecided
		n++
	}
	clear(hr.parked[len(keep):])
	hr.parked = keep
	if n == 0 {
		return nil
	}
	return hr.emitReady(hr.pending == 0 && !hr.deferred)
}

// arm plans the retry at at. Each timer carries its own number: one that
// fired while it was being stopped, and runs after a newer one was
// armed, finds the number changed and does nothing (it must not take the
// newer one's place and retry early). e.mu is held.
func (hr *hostRun) arm(at time.Time) {
	hr.timerGen++
	gen := hr.timerGen
	hr.e.wg.Add(1)
	hr.timer = time.AfterFunc(time.Until(at), func() { hr.unpark(gen) })
}

// unpark puts the parked jobs, and the greylisted probe, back in the
// host's queue when their retry is due.
func (hr *hostRun) unpark(gen uint64) {
	e := hr.e
	defer e.wg.Done()
	e.mu.Lock()
	if hr.timer == nil || gen != hr.timerGen { // stopped, or replaced, meanwhile
		e.mu.Unlock()
		return
	}
	hr.timer = nil
	now := time.Now()
	// Jobs greylisted for the first time less than the first wait ago
	// (they came in later batches) would only be greylisted again: they
	// wait for a timer of their own, unless this is the budget's last try.
	first := hr.firstWait()
	var jobs, wait []*job
	for _, j := range hr.parked {
		// Its own budget's last try (jobEnd) goes whatever the wait.
		if !now.Before(hr.jobDue(j, first)) {
			jobs = append(jobs, j)
		} else {
			wait = append(wait, j)
		}
	}
	hr.parked = wait
	e.v.logger().LogAttrs(e.ctx, slog.LevelDebug, "greylist retry", slog.String("domain", hr.d.name),
		slog.String("host", hr.host.Name), slog.Int("addresses", len(jobs)))
	if len(jobs) > 0 || hr.deferred {
		hr.sched.tried(now)
		hr.retryDue = hr.deferred
		// Due now: they go before the work queued meanwhile (after the
		// first addresses of new domains), so that a deep queue does not
		// add its length to the greylisting wait.
		q := e.queue(hr)
		q.fresh = min(q.fresh, len(q.jobs))
		q.jobs = slices.Insert(q.jobs, q.fresh, jobs...)
		for _, j := range jobs {
			j.at, j.greyRetried, j.retriedAt = atQueue, true, now
		}
		if hr.deferred && len(jobs) == 0 {
			q.probes = append(q.probes, hr)
		}
		e.wake(q)
	}
	if len(wait) > 0 && hr.timer == nil {
		at := hr.jobDue(wait[0], first)
		for _, j := range wait {
			if t := hr.jobDue(j, first); t.Before(at) {
				at = t
			}
		}
		hr.arm(at)
	}
	e.mu.Unlock()
}

// stopTimer cancels a planned retry. e.mu is held.
func (hr *hostRun) stopTimer() {
	if hr.timer != nil && hr.timer.Stop() {
		hr.e.wg.Done()
	}
	hr.timer = nil
}

// giveUp settles the parked jobs as greylisted, with when to try again,
// and a greylisted probe as unanswered. It returns what to send. e.mu is
// held.
func (hr *hostRun) giveUp() []*job {
	now := time.Now()
	for _, j := range hr.parked {
		if hr.sched != nil {
			j.res.RetryAfter = Seconds(hr.sched.retryAfter(now))
		}
		hr.pending--
		hr.decided = append(hr.decided, j)
		j.at = atDecided
	}
	hr.parked, hr.deferred = nil, false
	return hr.emitReady(hr.pending == 0)
}
