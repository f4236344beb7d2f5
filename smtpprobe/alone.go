package smtpprobe

import (
	"context"
	"time"

	"github.com/mailverify/mailverify/internal/ctxerr"
)

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
	start := time.Now()
	if err := s.send(ctx, lines...); err != nil {
		return 0
	}
	replies, err := s.readBatch(ctx, len(lines), start, false)
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
			s.logRcpt(ctx, results[i])
		}
	}
	mail, rcpt := replies[len(replies)-2], replies[len(replies)-1]
	s.inTx, s.txUTF8, s.txSent, s.txRcpts = mail.Code/100 == 2, false, 1, 0
	if rcpt.Code/100 == 2 {
		s.txRcpts = 1
	}
	s.connRcpts += n
	return n
}
