package smtpprobe

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mailverify/mailverify/internal/ctxerr"
)

// Pipelining (RFC 2920): reading a batch's replies, checking they are in
// step with the commands, and the RSET and MAIL FROM that go in the same
// flush as a RCPT batch.

// readBatch reads up to n replies to the last flush, stopping after a 421
// (the server closes the channel).
func (s *Session) readBatch(ctx context.Context, n int) ([]Reply, error) {
	replies := make([]Reply, 0, n)
	for range n {
		r, err := s.readNext(ctx)
		if err != nil {
			return replies, &batchError{err}
		}
		replies = append(replies, r)
		if r.Code == 421 {
			break
		}
	}
	return replies, nil
}

// readNext reads the next reply to the last flush. The first comes within
// the command timeout; after it the others are due promptly, so a server
// that dropped pipelined commands is found without waiting the whole
// timeout, and loses pipelining.
func (s *Session) readNext(ctx context.Context) (Reply, error) {
	timeout := s.p.commandTimeout()
	if s.flushReplies > 0 {
		timeout = min(timeout, max(2*time.Second, 10*time.Since(s.flushAt)))
	}
	s.flushReplies++
	r, err := s.read(ctx, timeout)
	if err != nil && s.flushReplies > 1 && isTimeout(err) && ctxerr.Of(ctx) == nil {
		s.noPipe = true
		s.trace("", "* replies missing; pipelining off")
	}
	return r, err
}

// batchError wraps the read error that cut a batch short; Unwrap gives it.
type batchError struct{ err error }

func (e *batchError) Error() string { return e.err.Error() }
func (e *batchError) Unwrap() error { return e.err }

// settle is how long the session listens, after the last reply of a
// pipelined batch, for replies nobody asked for.
const settle = time.Millisecond

// inStep reports whether the replies to a pipelined batch can be trusted:
// each is a reply a RCPT may get, and nothing follows the last one.
func (s *Session) inStep(ctx context.Context, replies []Reply) bool {
	for _, r := range replies {
		if c := r.Code / 100; c != 2 && c != 4 && c != 5 || r.Code == 220 || r.Code == 221 {
			return false
		}
	}
	if replies[len(replies)-1].Code == 421 {
		return s.br.Buffered() == 0
	}
	return s.settled(ctx)
}

// settled reports whether nothing follows the last reply read: nothing
// buffered, and nothing arriving within settle.
func (s *Session) settled(ctx context.Context) bool {
	if s.br.Buffered() > 0 {
		return false
	}
	s.deadline(ctx, settle)
	_, err := s.br.Peek(1)
	return err != nil
}

// ErrOutOfStep reports a server whose replies do not match the commands:
// one came before its command, or more came than were asked for.
var ErrOutOfStep = errors.New("smtpprobe: replies out of step with the commands")

// otherAddress reports whether the reply names, in angle brackets, an
// address other than the one the RCPT was for: then it answers another
// command (Postfix and many others quote the recipient). A refusal that
// names our own MAIL FROM is still the RCPT's reply: Postfix delays its
// sender checks to the first RCPT (smtpd_delay_reject, on by default) and
// quotes the sender there ("450 4.1.8 <probe@...>: Sender address
// rejected"). An acceptance naming it is another command's (MAIL's).
func (s *Session) otherAddress(r Reply, addr string) bool {
	q := namedAddress(r)
	if q == "" || strings.EqualFold(q, addr) {
		return false
	}
	return r.Code/100 == 2 || !strings.EqualFold(q, s.p.MailFrom)
}

// namedAddress returns the first text in angle brackets of the reply when
// it is an address (it holds an "@"), or "".
func namedAddress(r Reply) string {
	t := r.Text()
	i := strings.IndexByte(t, '<')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(t[i:], '>')
	if j < 0 {
		return ""
	}
	if q := t[i+1 : i+j]; strings.Contains(q, "@") {
		return q
	}
	return ""
}

// desync drops a connection whose replies are out of step with its
// commands and turns pipelining off; every address of the batch is asked
// again, one command at a time.
func (s *Session) desync(ctx context.Context, why string) int {
	s.noPipe = true
	s.trace("", "* replies out of step ("+why+"); pipelining off, reconnecting")
	s.fail(ctx, nil)
	return 0
}

// desyncWith is desync for a flush that carried the probes of ProbeWith
// when withAlone: their replies were read before the batch's, and are no
// more trusted than those.
func (s *Session) desyncWith(ctx context.Context, why string, withAlone bool) int {
	if withAlone {
		s.failAlone(0, ErrOutOfStep)
	}
	return s.desync(ctx, why)
}

// errRSETRefused reports a server that refused RSET; the session
// reconnects instead.
var errRSETRefused = errors.New("smtpprobe: RSET refused")

// pendingReplies reads the replies to a RSET and MAIL FROM that went with
// a RCPT batch of n, before the batch's own. It reports whether the batch's
// replies are to be read; if not, s.txErr says why (the rest of the
// addresses fail with it, or are retried on a new connection).
func (s *Session) pendingReplies(ctx context.Context, n int) bool {
	rset, mail := s.pendingRSET, s.pendingMail
	s.pendingRSET, s.pendingMail = false, false
	if rset {
		rr, err := s.readNext(ctx)
		if err != nil {
			s.txErr = err
			return false
		}
		if rr.Code/100 != 2 {
			s.quit(ctx) // a server that refuses RSET is reset by reconnecting
			s.txErr = errRSETRefused
			return false
		}
	}
	if mail {
		r, err := s.readNext(ctx)
		if err != nil {
			s.txErr = err
			return false
		}
		if r.Code/100 != 2 {
			s.inTx = false
			if r.Code == 421 {
				s.fail(ctx, nil) // the server is closing the channel
			} else {
				s.drain(ctx, n) // the refused RCPTs
			}
			s.txErr = &ReplyError{Cmd: "MAIL", Reply: r}
			return false
		}
	}
	return true
}

// drain reads n replies that no longer matter.
func (s *Session) drain(ctx context.Context, n int) {
	for range n {
		if s.broken {
			return
		}
		s.readNext(ctx)
	}
}

// errorRoom is how many more error replies a pipelined batch may draw: up
// to one past MaxErrors, the point of reconnecting, which with the default
// of 8 stays under Postfix's smtpd_soft_error_limit of 10 (at 10 Postfix
// delays every reply, QUIT's too).
func (s *Session) errorRoom() int { return s.p.maxErrors() + 1 - s.errors - s.pendingErrs }

// Room reports how many commands that may draw an error reply the next
// Probe sends in one flush (its RCPTs, and the catch-all probes of
// ProbeWith), now and on a new connection: within the error budget, the
// pipelining batch and the recipients the server judges on one
// connection. A session that must reconnect first reports the new
// connection's room for both; one without pipelining, 1.
func (s *Session) Room() (now, fresh int) {
	if _, ok := s.ext["PIPELINING"]; !ok || s.noPipe {
		return 1, 1
	}
	fresh = min(s.p.pipelineBatch(), s.p.maxErrors()+1)
	if s.perConn > 0 {
		fresh = min(fresh, s.perConn)
	}
	if s.mustReconnect() {
		return fresh, fresh
	}
	now = min(s.p.pipelineBatch(), s.errorRoom())
	if s.perConn > 0 {
		now = min(now, s.perConn-s.connRcpts)
	}
	return max(now, 1), fresh
}

// Recycle ends the connection with QUIT, waiting for the reply as Close
// does; the next Probe opens a new one with a fresh error budget. A
// caller with more recipients waiting than Room's now does it when that
// is small: a round trip for one or two recipients costs more than a new
// connection's greeting and EHLO.
func (s *Session) Recycle(ctx context.Context) {
	if s.conn == nil || s.broken {
		return
	}
	s.sayQuit(ctx)
	s.fail(ctx, nil)
}
