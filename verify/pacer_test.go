package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/smtpprobe"
)

// TestPacerCountsBudgetWaits: a wait for the egress's budget is a wait
// like the server's pace. A refusal after it proves no acceptance before
// it (asking.go compares the counts), so an uncounted budget wait would
// let a server that accepts everyone while we are fast, and answers
// honestly once we slow down, make nonexistent mailboxes deliverable.
func TestPacerCountsBudgetWaits(t *testing.T) {
	v := &Verifier{PerHostRate: 1000}
	pc := &pacer{lim: v.newServerLimit()}
	ctx := context.Background()
	if err := pc.pace(ctx, 1); err != nil || pc.count() != 0 {
		t.Fatalf("a flush the bucket covers: err %v, %d waits; want none", err, pc.count())
	}
	pc.budget = func(context.Context, int) error { time.Sleep(5 * time.Millisecond); return nil }
	if err := pc.pace(ctx, 1); err != nil || pc.count() != 1 {
		t.Fatalf("a flush that waited for the egress budget: err %v, %d waits; want 1", err, pc.count())
	}
}

// TestWaitsCountedPerFlush: one Probe call can take several flushes (more
// recipients than a flush carries), and the pace may wait between them. A
// refusal after such a wait proves no acceptance before it, so each answer
// carries the waits before its own flush, not the count when the call
// returned: otherwise both sides of the wait look alike (answer.refuted).
func TestWaitsCountedPerFlush(t *testing.T) {
	srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		if strings.Contains(cmd.Arg, "nobody@") {
			return testsmtp.R(550, "5.1.1", "User unknown")
		}
		return testsmtp.R(250, "2.1.5", "Ok")
	}}}
	defer srv.Close()
	v := &Verifier{PerHostRate: 20} // a burst of batchSize, then one RCPT every 50 ms
	pc := &pacer{lim: v.newServerLimit()}
	p := &smtpprobe.Prober{Dialer: srv, HELO: "client.example.net", MailFrom: "probe@client.example.net",
		PipelineBatch: batchSize, Pace: pc.pace}
	ctx := context.Background()
	s, err := p.Open(ctx, "mx.example.com", "192.0.2.1:25")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &conn{id: 1, s: s, pc: pc}
	pc.flushes = s.Flushes
	var addrs []string
	for i := range batchSize + 1 {
		addrs = append(addrs, fmt.Sprintf("u%d@example.com", i))
	}
	addrs = append(addrs, "nobody@example.com") // in the second flush, after a wait
	res := s.Probe(ctx, addrs...)
	f := flush{c: c, sent: 1, got: 2}
	acc, ok1 := f.answerOf(&res[0], false)
	ref, ok2 := f.answerOf(&res[len(res)-1], false)
	if !ok1 || !ok2 || acc.o != smtpprobe.Accepted || ref.o != smtpprobe.MailboxNotFound {
		t.Fatalf("answers %+v, %+v", res[0], res[len(res)-1])
	}
	if acc.flush == ref.flush || !acc.sameTx(ref) || pc.count() == 0 {
		t.Fatalf("want two flushes of one transaction with a wait: flushes %d, %d, waits %d", acc.flush, ref.flush, pc.count())
	}
	if acc.refuted(ref) {
		t.Fatalf("a refusal after a pacing wait proved the acceptance before it (waits %d and %d)", acc.waits, ref.waits)
	}
}
