package smtpprobe

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/mailverify/mailverify/internal/ctxerr"
)

// A Result is the outcome of probing one recipient.
type Result struct {
	Address string  `json:"address"`
	Outcome Outcome `json:"outcome"`
	// Reply is the deciding reply: to RCPT, or to the command that ended
	// the session (banner, EHLO, MAIL). Nil when there was none.
	Reply *Reply `json:"reply,omitempty"`
	// Err is the failure behind an outcome without a reply (timeout,
	// broken connection, TLS), or nil.
	Err error `json:"-"`
	// Conn is the session's connection that answered the RCPT (1 for the
	// first, see [Session.Connections]) and Seq the recipient's place
	// among those answered on it (1 for the first); both are zero when no
	// reply to RCPT came. Servers count recipients per connection and
	// change their answers with the count (recipient caps, harvest
	// protection, soft limits), so a comparison between two replies
	// depends on where each stood.
	Conn int `json:"-"`
	Seq  int `json:"-"`
	// Tx numbers the transaction (MAIL FROM) that carried the RCPT among
	// the session's: servers also count per transaction, and our own RSET
	// starts their count over. Flush numbers the write that carried the
	// command: commands of one flush reach the server together, so a
	// time-limited mode of the server (harvest protection for a while)
	// cannot have ended between them.
	Tx    int `json:"-"`
	Flush int `json:"-"`
}

// Probe asks the server about each address with RCPT TO and returns one
// Result per address, in order. Addresses must be in the form to send:
// A-label domains, and a non-ASCII local part only when SMTPUTF8 is meant
// (the session then asks for it, and reports NeedsSMTPUTF8 where the
// server lacks it).
//
// Probe manages transactions: MAIL FROM before the first RCPT and again
// after RSET when a transaction reaches MaxRcpts or needs SMTPUTF8; RCPTs
// in pipelined batches when offered. It reconnects when the server closes
// the channel (421), before MaxErrors, and after a broken connection,
// trying each address at most twice. When ctx ends, the addresses not yet
// answered get Timeout with ctx's error.
func (s *Session) Probe(ctx context.Context, addrs ...string) []Result {
	results := make([]Result, len(addrs))
	for i, a := range addrs {
		results[i].Address = a
	}
	tries := make([]int, len(addrs))
	for i := 0; i < len(addrs); {
		if err := ctxerr.Of(ctx); err != nil {
			failRest(results[i:], Timeout, nil, err)
			break
		}
		if err := s.ready(ctx); err != nil {
			failRest(results[i:], OutcomeOf(err), replyOf(err), err)
			break
		}
		a := addrs[i]
		s.remember(a)
		if err := checkLine(a); err != nil || a == "" {
			results[i].Outcome, results[i].Err = ProtocolError, ErrInjection
			i++
			continue
		}
		utf8Needed := !isASCII(a)
		if _, ok := s.ext["SMTPUTF8"]; utf8Needed && !ok {
			results[i].Outcome, results[i].Err = NeedsSMTPUTF8, ErrNoSMTPUTF8
			i++
			continue
		}
		if s.oneDomain && s.inTx && s.txSent > 0 && domainOf(a) != s.txDomain {
			s.txDone = true // one recipient domain per transaction
		}
		if err := s.transaction(ctx, utf8Needed); err != nil {
			if s.broken && ctxerr.Of(ctx) == nil && tries[i] == 0 && (!isReply(err) || replyOf(err).Code == 421) {
				tries[i]++
				continue // reconnect and try again
			}
			failRest(results[i:], OutcomeOf(err), replyOf(err), err)
			break
		}
		if s.txSent == 0 {
			s.txDomain = domainOf(a)
		}
		// The batch: consecutive valid addresses of the same kind (and,
		// where the server takes one, of the same domain), within the
		// transaction's room and the pipelining cap.
		n := 1
		if _, ok := s.ext["PIPELINING"]; ok && !s.noPipe {
			// Every reply may be an error: stay within the error budget.
			room := min(s.p.pipelineBatch(), s.maxRcpt-s.txRcpts, len(addrs)-i, s.errorRoom())
			if s.perConn > 0 {
				room = min(room, s.perConn-s.connRcpts)
			}
			for n < room {
				b := addrs[i+n]
				if checkLine(b) != nil || b == "" || isASCII(b) == utf8Needed || s.oneDomain && domainOf(b) != s.txDomain {
					break
				}
				n++
			}
		}
		done := s.rcptBatch(ctx, addrs[i:i+n], results[i:i+n], tries[i:i+n])
		if err := s.txErr; err != nil {
			s.txErr = nil
			if s.broken && ctxerr.Of(ctx) == nil && tries[i] == 0 && (!isReply(err) || replyOf(err).Code == 421) {
				tries[i]++
				continue // reconnect and try again
			}
			failRest(results[i:], OutcomeOf(err), replyOf(err), err)
			break
		}
		i += done
	}
	return results
}

// ready makes sure the connection can take recipients: it reconnects
// after a broken connection, before the server's error limits, and when
// the server judges no more recipients on this one.
func (s *Session) ready(ctx context.Context) error {
	if !s.mustReconnect() {
		return nil
	}
	if !s.broken && s.conn != nil {
		s.quit(ctx)
	}
	return s.connect(ctx)
}

// mustReconnect reports whether the next recipient needs a new
// connection: this one is broken or gone, has drawn MaxErrors refusals,
// or has had all the recipients the server judges on one.
func (s *Session) mustReconnect() bool {
	return s.broken || s.conn == nil || s.errors >= s.p.maxErrors() || s.perConn > 0 && s.connRcpts >= s.perConn
}

// rcptBatch sends RCPT for each address in one flush and reads the replies.
// It returns how many addresses have a final result; the rest are retried.
//
// A pipelined batch is checked before any reply is attributed: a server
// that leaves replies out (it reads one command per packet) or sends more
// than asked (a reply too many shifts every later answer onto the wrong
// address) is out of step, and then no reply of the batch counts: the
// session stops pipelining and asks again one command at a time.
func (s *Session) rcptBatch(ctx context.Context, addrs []string, results []Result, tries []int) int {
	stop := s.watch(ctx)
	defer stop()
	prefixed := s.pendingRSET || s.pendingMail || s.pendingAlone > 0 // other commands go in the same flush
	withAlone := s.pendingAlone > 0
	pipelined := len(addrs) > 1 || prefixed
	if s.br.Buffered() > 0 {
		s.pendingRSET, s.pendingMail, s.pendingAlone, s.pendingErrs = false, false, 0, 0
		return s.desync(ctx, "data arrived before the command")
	}
	lines := make([]string, len(addrs))
	for j, a := range addrs {
		lines[j] = "RCPT TO:<" + a + ">"
	}
	if err := s.send(ctx, lines...); err != nil {
		s.pendingRSET, s.pendingMail, s.pendingAlone, s.pendingErrs = false, false, 0, 0
		return s.brokenAt(ctx, err, results, tries, 0)
	}
	if s.pendingAlone > 0 && !s.aloneReplies(ctx, len(addrs)) {
		s.pendingRSET, s.pendingMail = false, false
		return 0
	}
	if !s.pendingReplies(ctx, len(addrs)) {
		return 0
	}
	replies, err := s.readBatch(ctx, len(addrs))
	switch {
	case err != nil && pipelined && (len(replies) > 0 || prefixed) && ctxerr.Of(ctx) == nil && isTimeout(errors.Unwrap(err)):
		return s.desyncWith(ctx, "replies missing", withAlone)
	case err == nil && pipelined && !s.inStep(ctx, replies):
		return s.desyncWith(ctx, "unexpected replies", withAlone)
	}
	for j, r := range replies {
		if !s.otherAddress(r, addrs[j]) {
			continue
		}
		if pipelined {
			return s.desyncWith(ctx, "a reply names another address", withAlone)
		}
		// One command at a time and still another address: no verdict
		// from this reply.
		results[0].Outcome, results[0].Reply, results[0].Err = ProtocolError, &r, ErrOutOfStep
		return 1
	}
	for j, r := range replies {
		o := Classify(r)
		limit := r.Code/100 != 2 && IsRecipientLimit(r)
		switch {
		case r.Code == 421:
			// The server closes the channel: reconnect and try again once.
			s.fail(ctx, nil)
			if tries[j] == 0 {
				tries[j]++
				return j
			}
			results[j].Outcome, results[j].Reply = o, &r
			return j + 1
		case limit && s.txSent > 0:
			// Too many recipients: the transaction is full. The rest of the
			// batch got the same answer; retry them in a new transaction.
			// Google's limit is of domains, not recipients: the rest go
			// in a transaction per domain (Probe).
			if IsDomainLimit(r) {
				s.oneDomain = true
			} else {
				s.maxRcpt = max(s.txRcpts, 1)
			}
			if !s.broken {
				s.endTransaction(ctx)
			}
			return j
		case limit && s.connRcpts > 0 && s.perConn == 0:
			// A fresh transaction and still too many: the server judges
			// only the first recipients of a connection (Exchange Online
			// does). One connection per that many recipients from now on.
			s.perConn = s.connRcpts
			s.quit(ctx)
			return j
		default:
			results[j].Outcome, results[j].Reply, results[j].Err = o, &r, nil
			s.txSent++
			s.connRcpts++
			results[j].Conn, results[j].Seq, results[j].Tx, results[j].Flush = s.conns, s.connRcpts, s.txNum, s.writes
			if r.Code/100 == 2 {
				s.txRcpts++
			}
			s.logRcpt(ctx, results[j])
		}
	}
	if err != nil {
		return s.brokenAt(ctx, err, results, tries, len(replies))
	}
	return len(addrs)
}

// brokenAt handles a connection that broke at batch index j: those
// addresses are retried once on a new connection, then fail.
func (s *Session) brokenAt(ctx context.Context, err error, results []Result, tries []int, j int) int {
	if ctxerr.Of(ctx) == nil && tries[j] == 0 {
		for k := j; k < len(tries); k++ {
			tries[k]++
		}
		return j
	}
	failRest(results[j:j+1], OutcomeOf(err), nil, err)
	return j + 1
}

// transaction makes sure a transaction with room is open, with SMTPUTF8
// when needed (RFC 6531 section 3.4).
func (s *Session) transaction(ctx context.Context, utf8Needed bool) error {
	if s.inTx && s.txRcpts < s.maxRcpt && s.txSent < 2*s.maxRcpt && s.txUTF8 == utf8Needed && !s.txDone {
		return nil
	}
	s.txDone = false
	stop := s.watch(ctx)
	defer stop()
	line := "MAIL FROM:<" + s.p.MailFrom + ">"
	if utf8Needed {
		line += " SMTPUTF8"
	}
	if _, pipe := s.ext["PIPELINING"]; pipe && !s.noPipe {
		// RSET and MAIL go with the RCPT batch that follows, in one round
		// trip (RFC 2920 section 3.1); rcptBatch reads their replies first.
		if s.inTx {
			s.queue("RSET")
			s.pendingRSET = true
		}
		s.queue(line)
		s.pendingMail = true
		s.inTx, s.txUTF8, s.txRcpts, s.txSent = true, utf8Needed, 0, 0
		s.txNum++
		return nil
	}
	if s.inTx {
		if err := s.endTransaction(ctx); err != nil {
			return err
		}
	}
	r, err := s.cmd(ctx, "MAIL", line)
	if err != nil {
		return err
	}
	if r.Code == 421 {
		s.fail(ctx, nil) // the server is closing the channel
	}
	if r.Code/100 != 2 {
		return &ReplyError{Cmd: "MAIL", Reply: r}
	}
	s.inTx, s.txUTF8, s.txRcpts, s.txSent = true, utf8Needed, 0, 0
	s.txNum++
	return nil
}

// endTransaction sends RSET.
func (s *Session) endTransaction(ctx context.Context) error {
	s.inTx, s.txRcpts, s.txSent = false, 0, 0
	r, err := s.cmd(ctx, "RSET", "RSET")
	if err != nil {
		return err
	}
	if r.Code/100 != 2 {
		s.quit(ctx) // a server that refuses RSET is reset by reconnecting
	}
	return nil
}

func failedAll(addrs []string, err error) []Result {
	rs := make([]Result, len(addrs))
	for i, a := range addrs {
		rs[i].Address = a
	}
	failRest(rs, OutcomeOf(err), replyOf(err), err)
	return rs
}

func failRest(rs []Result, o Outcome, r *Reply, err error) {
	for i := range rs {
		rs[i].Outcome, rs[i].Reply, rs[i].Err = o, r, err
	}
}

func isReply(err error) bool {
	var re *ReplyError
	return errors.As(err, &re)
}

func replyOf(err error) *Reply {
	var re *ReplyError
	if errors.As(err, &re) {
		r := re.Reply
		return &r
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
