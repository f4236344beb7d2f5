package verify

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A pacer is one session's share of its server's RCPT pace (its
// Prober.Pace). A flush can hold room behind it (prepay: a batch's
// trailing probes, which must follow it with no wait in between), and it
// counts the flushes that waited: evidence is not compared across a wait
// (see answer.waits).
type pacer struct {
	lim serverLimit
	// budget, when set, is the egress's budget, taken before the
	// server's pace: its waits are waits too (egress.go).
	budget func(ctx context.Context, n int) error
	// flushes, when set, is the session's count of flushes
	// (smtpprobe.Session.Flushes): a wait is counted at the flush it
	// came before, so that each answer knows the waits before its own
	// flush, whichever flush of a Probe call it came in.
	flushes func() int
	mu      sync.Mutex
	ahead   int // RCPTs the next flush holds room for in the bucket
	waits   int
	marks   []waitMark // the latest waits, oldest first
	dropped int        // the latest flush whose mark was dropped
	// holding is how many of lim.held are this session's: tokens left
	// in the bucket for its trailing flush. Guarded by lim.held.mu.
	holding int
}

// A waitMark is one flush that waited, and the waits up to it.
type waitMark struct{ flush, waits int }

// maxMarks bounds the waits a pacer remembers by flush: answers are read
// right after their Probe call, a few flushes back.
const maxMarks = 64

// holds counts the RCPTs held in a server's bucket for trailing flushes,
// all sessions together: no session takes them but the one they are
// held for.
//
// It also keeps the line of sessions whose flushes wait for the pace:
// the first to wait goes first. Without it, a session waiting for a
// large flush lost the bucket again and again to another session's
// smaller flushes, whose tokens came sooner, and its batch (a sparse
// domain's only address, a greylisting retry due) waited for minutes
// (TestReviewGroupGreylistFoundLate).
type holds struct {
	mu    sync.Mutex
	n     int
	line  []*pacer      // sessions waiting for the pace, first come first
	moved chan struct{} // closed when the line's head changes; nil for none yet
}

// first reports whether p may take tokens now: no other session waits
// before it, or it takes only what it holds (its trailing flush, which
// must not wait). h.mu is held.
func (h *holds) first(p *pacer, k int) bool {
	return k <= p.holding || len(h.line) == 0 || h.line[0] == p
}

// join puts p at the end of the line, unless it is in it. h.mu is held.
func (h *holds) join(p *pacer) {
	if !slices.Contains(h.line, p) {
		h.line = append(h.line, p)
	}
}

// leave takes p out of the line, and wakes the sessions waiting in it
// when the head changes. h.mu is held.
func (h *holds) leave(p *pacer) {
	i := slices.Index(h.line, p)
	if i < 0 {
		return
	}
	h.line = slices.Delete(h.line, i, i+1)
	if i == 0 && h.moved != nil {
		close(h.moved)
		h.moved = nil
	}
}

// turn returns a channel closed when the line's head changes. h.mu is
// held.
func (h *holds) turn() <-chan struct{} {
	if h.moved == nil {
		h.moved = make(chan struct{})
	}
	return h.moved
}

func (p *pacer) pace(ctx context.Context, n int) error {
	p.mu.Lock()
	extra := p.ahead // every flush of the batch's call holds it (see prepay)
	p.mu.Unlock()
	start := time.Now()
	var err error
	if p.budget != nil {
		err = p.budget(ctx, n)
	}
	if err == nil {
		err = p.take(ctx, n, extra)
	}
	if time.Since(start) >= time.Millisecond { // shorter is a round trip's noise
		p.gap()
	}
	return err
}

// gap counts a wait before the session's next flush: one for the pace,
// or one outside it (the catch-all Detector's, for another run's probe)
// that a server's spell may end in just the same.
func (p *pacer) gap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waits++
	flush := 0
	if p.flushes != nil {
		flush = p.flushes() + 1 // the flush about to go
	}
	if len(p.marks) == maxMarks {
		p.dropped = p.marks[0].flush
		p.marks = append(p.marks[:0], p.marks[1:]...)
	}
	p.marks = append(p.marks, waitMark{flush, p.waits})
}

// prepay has the next flushes hold room for n more RCPTs after them,
// until prepay(0): the flushes of a batch's Probe call (its catch-all
// probes may go in a flush before it). The room stays held for the flush
// after them, until clear.
func (p *pacer) prepay(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ahead = n
}

// clear forgets room asked for and gives back room held and not used.
func (p *pacer) clear() {
	p.prepay(0)
	if h := p.lim.held; h != nil {
		h.mu.Lock()
		h.n -= p.holding
		p.holding = 0
		h.mu.Unlock()
	}
}

// count is how many flushes have waited for the pace.
func (p *pacer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waits
}

// countAt is how many flushes up to flush (smtpprobe.Result.Flush) have
// waited for the pace. For a flush older than the marks kept it returns a
// number of that flush alone, below zero: equal to no other flush's.
func (p *pacer) countAt(flush int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flushes == nil {
		return p.waits
	}
	if flush < p.dropped {
		return -1 - flush
	}
	n := p.waits
	for i := len(p.marks) - 1; i >= 0 && p.marks[i].flush > flush; i-- {
		n--
	}
	return n
}

// take waits until n more RCPTs may go to the server and takes their
// tokens; with extra, it waits until the bucket also holds extra more and
// holds them for this session's next flush, which then goes at once.
// Tokens are taken only as RCPTs go: the promise holds at the server.
// Tokens other sessions hold are not taken. When the wait would outlast
// ctx's deadline it takes no tokens and returns when ctx ends, so the
// flush fails as at its deadline (the session does not reconnect and ask
// again); when only the extra would, it paces n alone.
func (p *pacer) take(ctx context.Context, n, extra int) error {
	if p.lim.rcpts == nil {
		return nil
	}
	burst := p.lim.rcpts.Burst()
	for n > 0 {
		k := min(n, burst)
		n -= k
		x := 0
		if n == 0 {
			x = min(extra, burst-k)
		}
		if err := p.takeChunk(ctx, k, x); err != nil {
			return err
		}
	}
	return nil
}

// takeChunk is take for at most a burst of RCPTs. Sessions that wait
// take their turns in the order they began to wait (holds.line).
func (p *pacer) takeChunk(ctx context.Context, k, x int) error {
	l := p.lim
	h := l.held
	for {
		h.mu.Lock()
		now := time.Now()
		tok := l.rcpts.TokensAt(now)
		others := h.n - p.holding
		turn := k
		if k == 0 {
			turn = x // a hold (pacer.hold) takes its turn like a flush
		}
		if h.first(p, turn) && tok >= float64(k+x+others) && l.rcpts.AllowN(now, k) {
			// What it held beyond this flush stays held for the next
			// (pacer.hold), until a wait or clear.
			hold := max(x, p.holding-k)
			h.n += hold - p.holding
			p.holding = hold
			h.leave(p)
			h.mu.Unlock()
			return nil
		}
		// This flush waits: what this session held is of no more use
		// (a trailing flush after a wait proves nothing), and holding it
		// could keep another session waiting for ever.
		h.n -= p.holding
		p.holding = 0
		others = h.n
		h.join(p)
		if h.line[0] != p {
			// Another session waits before this one: its turn first.
			turn := h.turn()
			h.mu.Unlock()
			select {
			case <-ctx.Done():
				p.leaveLine()
				return ctx.Err()
			case <-turn:
			}
			continue
		}
		h.mu.Unlock()
		wait := func(want int) time.Duration {
			if want > l.rcpts.Burst() {
				return 5 * time.Millisecond // until the others' flushes go
			}
			return max(time.Millisecond, time.Duration((float64(want)-tok)/float64(l.rcpts.Limit())*float64(time.Second)))
		}
		d := wait(k + x + others)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			if x > 0 && time.Until(dl) >= wait(k+others) {
				x = 0 // the room after it does not fit the deadline
				continue
			}
			// It cannot go by its deadline: the sessions behind it go.
			p.leaveLine()
			<-ctx.Done()
			return ctx.Err()
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			p.leaveLine()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// leaveLine takes p out of its server's line of waiting sessions.
func (p *pacer) leaveLine() {
	h := p.lim.held
	h.mu.Lock()
	h.leave(p)
	h.mu.Unlock()
}

// hold waits until the server's bucket has room for n RCPTs (a burst at
// most) beside what other sessions hold, and holds it for this session's
// next flushes: they then go with no wait between them, until they have
// taken it or clear. Where the server does not pipeline, each command is
// a flush of its own, and a trailing probe's random addresses, the
// acceptances asked again and the probe go one by one: a wait between
// them would leave them unproven (answer.near). A wait for the room
// counts as one (gap).
func (p *pacer) hold(ctx context.Context, n int) error {
	if p.lim.rcpts == nil || n <= 0 {
		return nil
	}
	start := time.Now()
	err := p.takeChunk(ctx, 0, min(n, p.lim.rcpts.Burst()))
	if time.Since(start) >= time.Millisecond {
		p.gap()
	}
	return err
}

// short reports whether n RCPTs would wait for the pace now.
func (p *pacer) short(n int) bool {
	l := p.lim
	if n == 0 || l.rcpts == nil {
		return false
	}
	l.held.mu.Lock()
	defer l.held.mu.Unlock()
	return l.rcpts.Tokens() < float64(n+l.held.n-p.holding)
}

// free is how many RCPTs of the server's bucket this session's next flush
// and its trailing flush may take at once: the burst, less what other
// sessions hold (at least one).
func (p *pacer) free() int {
	l := p.lim
	if l.rcpts == nil {
		return batchSize
	}
	l.held.mu.Lock()
	defer l.held.mu.Unlock()
	return max(1, l.rcpts.Burst()-(l.held.n-p.holding))
}
