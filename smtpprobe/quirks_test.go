package smtpprobe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Servers that break the usual rules: first-RCPT-only, hard recipient
// limits, broken pipelining, stray replies; and the probes that go alone.

func TestProbeFirstRcptOnlyServer(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.FirstRcptOnly("a@example.com", "c@example.com")
		defer srv.Close()
		res, s, err := probe(t, &Prober{}, srv, "a@example.com", "b@example.com", "c@example.com", "d@example.com")
		if err != nil {
			t.Fatal(err)
		}
		want := []Outcome{Accepted, MailboxNotFound, Accepted, MailboxNotFound}
		if got := outcomes(res); !slices.Equal(got, want) {
			t.Errorf("outcomes = %v, want %v", got, want)
		}
		if q := s.Quirks(); q.RcptsPerConnection != 1 {
			t.Errorf("learned %+v, want one recipient per connection", q)
		}
		// A session told the quirk up front makes no wasted RCPT.
		srv2 := testsmtp.FirstRcptOnly()
		defer srv2.Close()
		s2 := openSession(t, srv2)
		s2.SetQuirks(Quirks{RcptsPerConnection: 1})
		res = s2.Probe(t.Context(), "x@example.com", "y@example.com", "z@example.com")
		s2.Close()
		if got := outcomes(res); !slices.Equal(got, []Outcome{Accepted, Accepted, Accepted}) {
			t.Errorf("with the quirk known: %v", got)
		}
		if srv2.Count("RCPT") != 3 || srv2.Connections() != 3 {
			t.Errorf("with the quirk known: %d RCPT on %d connections, want 3 on 3", srv2.Count("RCPT"), srv2.Connections())
		}
	})
}

func TestProbePermanentRecipientLimit(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.RcptLimit(3)
		defer srv.Close()
		addrs := []string{"a@x.test", "b@x.test", "c@x.test", "d@x.test", "e@x.test", "f@x.test", "g@x.test"}
		res, _, err := probe(t, &Prober{}, srv, addrs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Outcome != Accepted {
				t.Errorf("%s: %v (%v), want accepted in a later transaction", addrs[i], r.Outcome, r.Reply)
			}
		}
	})
}

func TestProbeAloneStartsATransaction(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.RcptLimit(2)
		defer srv.Close()
		s := openSession(t, srv)
		defer s.Close()
		s.Probe(t.Context(), "a@x.test", "b@x.test")
		if r := s.ProbeAlone(t.Context(), "random@x.test"); r.Outcome != Accepted {
			t.Errorf("probe after a full transaction: %v %v, want accepted in its own", r.Outcome, r.Reply)
		}
		if srv.Count("MAIL") != 2 || srv.Count("RSET") != 1 {
			t.Errorf("%d MAIL, %d RSET; want 2 and 1", srv.Count("MAIL"), srv.Count("RSET"))
		}
	})
}

func TestProbePipeliningOutOfStep(t *testing.T) {
	addrs := []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"}
	extra := func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		if strings.HasPrefix(strings.ToLower(cmd.Arg), "to:<b@") {
			// One reply too many: every later answer would shift by one.
			return testsmtp.Reply{Raw: "250 2.1.5 Ok\r\n550 5.1.1 stray\r\n"}
		}
		if strings.HasPrefix(strings.ToLower(cmd.Arg), "to:<c@") {
			return testsmtp.R(550, "5.1.1", "User unknown")
		}
		return testsmtp.R(250, "2.1.5", "Ok")
	}
	for name, srv := range map[string]func() *testsmtp.Server{
		"one command per read": func() *testsmtp.Server {
			s := testsmtp.Mailboxes("a@example.com", "b@example.com", "d@example.com")
			s.OneCommandPerRead = true
			return s
		},
		"extra reply": func() *testsmtp.Server {
			return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": extra}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				srv := srv()
				defer srv.Close()
				start := time.Now()
				res, s, err := probe(t, &Prober{}, srv, addrs...)
				if err != nil {
					t.Fatal(err)
				}
				want := []Outcome{Accepted, Accepted, MailboxNotFound, Accepted}
				if got := outcomes(res); !slices.Equal(got, want) {
					t.Errorf("outcomes = %v, want %v", got, want)
				}
				if !s.Quirks().NoPipelining {
					t.Error("pipelining still on")
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("took %v; the missing replies should be noticed within seconds", d)
				}
			})
		})
	}
}

func TestCloseContextDoesNotWaitPastDeadline(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"QUIT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.Reply{Hang: true}
		}}}
		defer srv.Close()
		s := openSession(t, srv)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		s.CloseContext(ctx)
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Errorf("CloseContext took %v past a 300ms context", d)
		}
	})
}

func TestProbeEach(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes("a@x.test", "c@y.test")
		srv.Latency = 10 * time.Millisecond
		defer srv.Close()
		s := openSession(t, srv)
		defer s.Close()
		s.Probe(t.Context(), "a@x.test") // a transaction is open
		before := srv.Flushes()
		res := s.ProbeEach(t.Context(), "a@x.test", "b@x.test", "c@y.test", "d@y.test")
		want := []Outcome{Accepted, MailboxNotFound, Accepted, MailboxNotFound}
		if got := outcomes(res); !slices.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		if n := srv.Flushes() - before; n != 1 {
			t.Errorf("%d round trips for 4 probes, want 1", n)
		}
		if srv.Count("RSET") != 4 || srv.Count("MAIL") != 5 {
			t.Errorf("%d RSET, %d MAIL: each probe needs a transaction of its own", srv.Count("RSET"), srv.Count("MAIL"))
		}
		// The session goes on normally after.
		if r := s.Probe(t.Context(), "c@y.test"); r[0].Outcome != Accepted {
			t.Errorf("after ProbeEach: %v", r[0].Outcome)
		}
	})
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes("a@x.test")
		srv.Extensions = []string{"8BITMIME"} // no PIPELINING
		defer srv.Close()
		s := openSession(t, srv)
		defer s.Close()
		if got := outcomes(s.ProbeEach(t.Context(), "a@x.test", "b@x.test")); !slices.Equal(got, []Outcome{Accepted, MailboxNotFound}) {
			t.Errorf("without PIPELINING: %v", got)
		}
	})
}

// TestProbeStrayReplies: a server that sends a reply nobody asked for
// (after its EHLO reply, or a second one later) never has its replies
// taken for the wrong address, pipelined or not.
func TestProbeStrayReplies(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				srv := testsmtp.Mailboxes("jane@example.com")
				srv.Latency = 2 * time.Millisecond // buffered, as TCP is
				ext := "250 SIZE 1000\r\n"
				if pipelining {
					ext = "250 PIPELINING\r\n"
				}
				srv.Handlers["EHLO"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
					return testsmtp.Reply{Raw: "250-talker\r\n" + ext + "250 2.0.0 Ok\r\n"}
				}
				defer srv.Close()
				res, _, err := probe(t, &Prober{}, srv, "ghost@example.com", "jane@example.com")
				if err == nil {
					for _, r := range res {
						if r.Outcome == Accepted && r.Address != "jane@example.com" || r.Outcome == MailboxNotFound && r.Address != "ghost@example.com" {
							t.Errorf("%s: %v from %v", r.Address, r.Outcome, r.Reply)
						}
					}
				} else if OutcomeOf(err) != ProtocolError {
					t.Errorf("open: %v (%v), want a protocol error", err, OutcomeOf(err))
				}
			})
		})
	}
	// A reply that names another address is no answer about this one,
	// except a refusal naming our own sender (Postfix's delayed sender
	// check); an acceptance naming the sender is MAIL's reply.
	s := &Session{p: &Prober{MailFrom: "probe@verifier.example"}}
	for _, c := range []struct {
		reply string
		other bool
	}{
		{"550 5.1.1 <other@example.com>: Recipient address rejected", true},
		{"550 5.1.1 <Jane@Example.com>: Recipient address rejected", false},
		{"250 2.1.5 Ok", false},
		{"450 4.1.8 <Probe@Verifier.example>: Sender address rejected: Domain not found", false},
		{"250 2.1.0 <probe@verifier.example>... Sender ok", true},
	} {
		if got := s.otherAddress(replyFrom(t, c.reply), "jane@example.com"); got != c.other {
			t.Errorf("otherAddress(%q) = %v, want %v", c.reply, got, c.other)
		}
	}
}

// openSession opens a session on srv through a net.Pipe dialer.
func openSession(t *testing.T, srv *testsmtp.Server) *Session {
	t.Helper()
	s, err := (&Prober{Dialer: srv, HELO: "verifier.example.net"}).Open(t.Context(), "mx.example.com", "192.0.2.25:25")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
