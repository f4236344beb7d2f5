package verify

import (
	"context"
	"errors"

	"github.com/mailverify/mailverify/smtpprobe"
)

// Sessions of the engine's workers: opened within the server's limits,
// closed with what the server taught us, and the batch filed with the
// failure when one cannot be opened.

// openConn opens a session to q's server within its per-host limits.
func (e *engine) openConn(ctx context.Context, q *hostQueue) (*conn, error) {
	var conv *convLog
	if e.v.Transcript {
		from, _ := e.v.mailFrom() // Validate has checked it
		conv = newConvLog(from)
	}
	pc := &pacer{}
	s, addr, release, err := e.v.open(withLeaseWait(ctx, q), q.host, conv, pc)
	if err != nil {
		return nil, err
	}
	s.SetQuirks(e.v.quirks(addr))
	pc.flushes = s.Flushes // answers count the waits before their own flush
	lim := e.v.server(addr).limit.rcpts
	e.mu.Lock()
	q.open++
	e.mu.Unlock()
	return &conn{id: e.conns.Add(1), q: q, s: s, addr: addr, release: release, limiter: lim, pc: pc, conv: conv}, nil
}

func (e *engine) closeConn(c *conn) {
	if c == nil || c.s == nil {
		return
	}
	e.v.learn(c.addr, c.s.Quirks())
	c.s.CloseContext(e.ctx)
	c.release()
	c.s = nil
	e.mu.Lock()
	c.q.open--
	e.mu.Unlock()
}

// openFailed files the batch with the failure to open the session: a
// refusal, a connection or TLS failure, or no egress within the jobs'
// budget (an *egress.UnavailableError). The jobs move on to their next MX
// host where there is one. It returns the jobs to send. e.mu is held, and
// has been since the batch was taken: take gives the jobs their
// deadlines, which a wait for an egress may have passed already, and the
// deadline timer must not end them as timeouts before they are filed
// with the failure that kept them waiting.
func (e *engine) openFailed(batch []*job, probes []*hostRun, err error) []*job {
	out := smtpprobe.Result{Outcome: smtpprobe.OutcomeOf(err), Err: err}
	var re *smtpprobe.ReplyError
	if errors.As(err, &re) {
		out.Reply = &re.Reply
	}
	results := make([]smtpprobe.Result, len(batch))
	for k, j := range batch {
		results[k] = out
		results[k].Address = j.wire
	}
	var sends []*job
	for k, j := range batch {
		hr := j.run
		if j.expired {
			continue
		}
		j.out, j.host = &results[k], hr.host.Name
		j.answered = false
		hr.file(e.ctx, j)
		sends = append(sends, hr.afterBatch()...)
	}
	for _, hr := range probes {
		sends = append(sends, hr.afterBatch()...) // the probe stays deferred: its schedule goes on
	}
	return sends
}
