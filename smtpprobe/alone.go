package smtpprobe

import (
	"context"
	"errors"

	"github.com/mailverify/mailverify/internal/ctxerr"
)

// ProbeAlone probes addr as the first recipient of a transaction of its
// own (and of a connection of its own where the server judges only the
// first recipients of a connection), so that no recipient limit answers
// for it. The catch-all probe goes this way.
func (s *Session) ProbeAlone(ctx context.Context, addr string) Result {
	return s.ProbeFresh(ctx, addr)[0]
}

// TxRoom returns how many more recipients Probe puts in the open
// transaction, on this connection, before it opens a new transaction and
// how many of them may be refused before it opens a new connection (the
// error budget). Both are 0 when no transaction is open, or the next
// Probe reconnects first.
func (s *Session) TxRoom() (rcpts, refusals int) {
	if !s.inTx || s.mustReconnect() {
		return 0, 0
	}
	rcpts = min(s.maxRcpt-s.txRcpts, 2*s.maxRcpt-s.txSent)
	if s.perConn > 0 {
		rcpts = min(rcpts, s.perConn-s.connRcpts)
	}
	return max(0, rcpts), max(0, s.p.maxErrors()-s.errors)
}

// FreshRoom is TxRoom for a new transaction on a new connection.
func (s *Session) FreshRoom() (rcpts, refusals int) {
	rcpts = s.p.maxRcpts()
	if s.perConn > 0 {
		rcpts = min(rcpts, s.perConn)
	}
	return rcpts, s.p.maxErrors()
}

// ProbeFresh probes addrs as Probe does, in a new transaction: the first
// of them is its first recipient, and the others follow in it while it
// has room. A comparison between replies in one transaction is the one
// a server's per-transaction count cannot spoil.
func (s *Session) ProbeFresh(ctx context.Context, addrs ...string) []Result {
	if s.inTx && s.txSent > 0 {
		// RSET goes with the new MAIL FROM, in the same flush where the
		// server pipelines.
		s.txDone = true
	}
	return s.Probe(ctx, addrs...)
}

// ProbeEach probes each address as the first recipient of a transaction of
// its own, as ProbeAlone does, and returns one Result per address. Where
// the server offers PIPELINING (and has not broken it), the transactions
// go in one round trip: RSET, MAIL FROM and RCPT TO for each address,
// checked for replies out of step like any pipelined batch. Otherwise, or
// when something goes wrong, the addresses go one by one.
func (s *Session) ProbeEach(ctx context.Context, addrs ...string) []Result {
	results := make([]Result, len(addrs))
	done := 0
	if _, ok := s.ext["PIPELINING"]; ok && !s.noPipe && s.perConn == 0 && len(addrs) > 1 && !s.broken && s.conn != nil {
		done = s.pipelinedAlone(ctx, addrs, results)
	}
	for i := done; i < len(addrs); i++ {
		results[i] = s.ProbeAlone(ctx, addrs[i])
	}
	return results
}

// pipelinedAlone sends the transactions of as many addresses as the
// error budget allows in one flush and files their replies. It returns
// how many addresses have a result; the rest go one by one.
func (s *Session) pipelinedAlone(ctx context.Context, addrs []string, results []Result) int {
	// Each probe may draw two errors (a refused MAIL, then RCPT).
	n := min(len(addrs), s.p.pipelineBatch(), s.errorRoom()/2)
	var lines []string
	for i, a := range addrs[:n] {
		if checkLine(a) != nil || a == "" || !isASCII(a) {
			n = i
			break
		}
		if i > 0 || s.inTx {
			lines = append(lines, "RSET")
		}
		lines = append(lines, "MAIL FROM:<"+s.p.MailFrom+">", "RCPT TO:<"+a+">")
	}
	if n < 2 {
		return 0
	}
	stop := s.watch(ctx)
	defer stop()
	if s.br.Buffered() > 0 {
		s.desync(ctx, "data arrived before the command")
		return 0
	}
	if err := s.send(ctx, lines...); err != nil {
		return 0
	}
	replies, err := s.readBatch(ctx, len(lines))
	if err == nil && len(replies) < len(lines) { // a 421 ended the replies
		s.fail(ctx, nil)
		return 0
	}
	if err != nil || !s.inStep(ctx, replies) {
		if err == nil || ctxerr.Of(ctx) == nil && isTimeout(err) {
			s.desync(ctx, "replies to the probes out of step")
		}
		return 0 // the connection is broken or out of step: one by one
	}
	if s.probeNamesAnother(addrs[:n], replies) {
		s.desync(ctx, "a reply to a probe names another address")
		return 0 // out of step: one by one, on a new connection
	}
	k := 0
	for i, a := range addrs[:n] {
		if i > 0 || s.inTx {
			k++ // RSET: a refusal shows in the MAIL reply that follows
		}
		mail, rcpt := replies[k], replies[k+1]
		k += 2
		results[i].Address = a
		switch {
		case mail.Code == 421 || rcpt.Code == 421:
			s.fail(ctx, nil)
			return i // the server closes the channel: the rest one by one
		case mail.Code/100 != 2:
			r := mail
			results[i].Outcome, results[i].Reply, results[i].Err = OutcomeOf(&ReplyError{Cmd: "MAIL", Reply: r}), &r, nil
		default:
			r := rcpt
			results[i].Outcome, results[i].Reply = Classify(r), &r
			results[i].Conn, results[i].Seq, results[i].Tx, results[i].Flush = s.conns, s.connRcpts+i+1, s.txNum+i+1, s.writes
			s.logRcpt(ctx, results[i])
		}
	}
	mail, rcpt := replies[len(replies)-2], replies[len(replies)-1]
	s.inTx, s.txUTF8, s.txSent, s.txRcpts = mail.Code/100 == 2, false, 1, 0
	if rcpt.Code/100 == 2 {
		s.txRcpts = 1
	}
	s.connRcpts += n
	s.txNum += n
	return n
}

// probeNamesAnother reports whether a reply to the RCPT of one of the
// transactions pipelinedAlone sent for addrs names another address.
func (s *Session) probeNamesAnother(addrs []string, replies []Reply) bool {
	k := 0
	for i, a := range addrs {
		if i > 0 || s.inTx {
			k++
		}
		if s.otherAddress(replies[k+1], a) {
			return true
		}
		k += 2
	}
	return false
}

// ProbeWith probes alone as ProbeEach does and addrs as Probe does, in
// the same round trip where the server pipelines: the transactions of
// alone go first, each with its address as the only recipient, and addrs
// follow in the last of them. It returns the results of alone and of
// addrs. Where the server does not pipeline, or an address needs more
// than a plain transaction, the two go one after the other.
func (s *Session) ProbeWith(ctx context.Context, alone []string, addrs ...string) ([]Result, []Result) {
	if len(alone) == 0 {
		return nil, s.Probe(ctx, addrs...)
	}
	if len(addrs) > 0 {
		if err := s.ready(ctx); err != nil { // a new connection takes both
			return failedAll(alone, err), failedAll(addrs, err)
		}
	}
	if len(addrs) == 0 || !s.canQueue(alone, addrs) {
		return s.ProbeEach(ctx, alone...), s.Probe(ctx, addrs...)
	}
	s.aloneRes = make([]Result, len(alone))
	for i, a := range alone {
		if i > 0 || s.inTx {
			s.queue("RSET")
		}
		s.queue("MAIL FROM:<" + s.p.MailFrom + ">")
		s.queue("RCPT TO:<" + a + ">")
		s.txNum++
		s.aloneRes[i] = Result{Address: a, Outcome: ConnectionFailed, Err: errNotAnswered, Tx: s.txNum}
	}
	s.aloneFirstRSET = s.inTx
	// A probe draws one error at most in practice: a refused MAIL refuses
	// the whole session, whatever the budget.
	s.pendingAlone, s.pendingErrs = len(alone), len(alone)
	// The last probe's transaction is the batch's.
	s.inTx, s.txUTF8, s.txSent, s.txRcpts = true, false, 1, 0
	s.txDomain = domainOf(alone[len(alone)-1])
	res := s.Probe(ctx, addrs...)
	ar := s.aloneRes
	s.aloneRes, s.pendingAlone, s.pendingErrs = nil, 0, 0
	return ar, res
}

// errNotAnswered is the error of a queued probe whose reply never came.
var errNotAnswered = errors.New("smtpprobe: the connection ended before the reply")

// canQueue reports whether the probes of alone can go in the flush of the
// first batch of addrs: pipelining works, nothing is pending, every
// address is plain ASCII, and the error budget takes them and one recipient.
func (s *Session) canQueue(alone, addrs []string) bool {
	if _, ok := s.ext["PIPELINING"]; !ok || s.noPipe || s.perConn > 0 || s.broken || s.conn == nil ||
		s.pendingRSET || s.pendingMail || s.pendingAlone > 0 || len(alone)+1 > s.errorRoom() ||
		len(alone) > s.p.pipelineBatch() {
		return false
	}
	for _, a := range append(alone[:len(alone):len(alone)], addrs...) {
		if checkLine(a) != nil || a == "" || !isASCII(a) {
			return false
		}
	}
	return true
}

// aloneReplies reads the replies of the queued probes, before those of the
// batch they went with. It reports false with s.txErr set when the batch's
// transaction cannot go on, and false without it when the replies are out
// of step: then no probe's reply counts, and the batch is asked again.
func (s *Session) aloneReplies(ctx context.Context, n int) bool {
	count := s.pendingAlone
	s.pendingAlone, s.pendingErrs = 0, 0
	mails, rcpts := make([]Reply, count), make([]Reply, count)
	for i := range count {
		var err error
		if i > 0 || s.aloneFirstRSET {
			_, err = s.readNext(ctx)
		}
		if err == nil {
			mails[i], err = s.readNext(ctx)
		}
		if err == nil {
			rcpts[i], err = s.readNext(ctx)
		}
		if err != nil {
			s.failAlone(i, err)
			s.txErr = err
			return false
		}
	}
	for i, rc := range rcpts {
		if mails[i].Code/100 == 2 && s.otherAddress(rc, s.aloneRes[i].Address) {
			// Another command's answer: as in rcptBatch, the flush is out
			// of step and none of its replies is trusted.
			s.failAlone(0, ErrOutOfStep)
			s.desync(ctx, "a reply to a probe names another address")
			return false
		}
	}
	for i, rc := range rcpts {
		r := &s.aloneRes[i]
		if mails[i].Code/100 != 2 {
			m := mails[i]
			r.Outcome, r.Reply, r.Err = OutcomeOf(&ReplyError{Cmd: "MAIL", Reply: m}), &m, nil
			continue
		}
		r.Outcome, r.Reply, r.Err = Classify(rc), &rc, nil
		s.logRcpt(ctx, *r)
		s.connRcpts++
		r.Conn, r.Seq, r.Flush = s.conns, s.connRcpts, s.writes
		if i == count-1 && rc.Code/100 == 2 {
			s.txRcpts = 1
		}
	}
	if mail := mails[count-1]; mail.Code/100 != 2 { // the batch went in a transaction that never opened
		s.inTx = false
		s.drain(ctx, n)
		s.txErr = &ReplyError{Cmd: "MAIL", Reply: mail}
		return false
	}
	return true
}

// failAlone gives the unanswered probes from i on the error that ended
// them.
func (s *Session) failAlone(i int, err error) {
	for ; i < len(s.aloneRes); i++ {
		s.aloneRes[i].Outcome, s.aloneRes[i].Err = OutcomeOf(err), err
	}
}
