package smtpprobe

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// strayProbeServer knows jane@x.test, and answers every RCPT for a
// local part starting with "rnd" with stray: a reply that names jane, as
// a server out of step would (the answer to another command).
func strayProbeServer(stray string) *testsmtp.Server {
	srv := testsmtp.Mailboxes("jane@x.test")
	inner := srv.Handlers["RCPT"]
	srv.Handlers["RCPT"] = func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		if strings.Contains(strings.ToLower(cmd.Arg), "<rnd") {
			return testsmtp.Reply{Raw: stray}
		}
		return inner(c, cmd)
	}
	srv.Latency = 2 * time.Millisecond
	return srv
}

// TestProbeRepliesNamingAnotherAddress: a reply to a catch-all probe
// (ProbeEach, ProbeWith) that names another address answers another
// command. It is never taken for the probe's answer: an "accepted" would
// make the domain catch-all, a "no such user" would make it not
// catch-all, and either would decide other addresses' verdicts.
func TestProbeRepliesNamingAnotherAddress(t *testing.T) {
	for _, stray := range []string{
		"250 2.1.5 <jane@x.test>... Recipient ok\r\n",
		"550 5.1.1 <jane@x.test>: Recipient address rejected: User unknown\r\n",
	} {
		code := stray[:3]
		t.Run("ProbeEach/"+code, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				srv := strayProbeServer(stray)
				defer srv.Close()
				s := open(t, srv)
				defer s.Close()
				res := s.ProbeEach(t.Context(), "rnd1@x.test", "rnd2@y.test")
				for _, r := range res {
					if r.Outcome != ProtocolError {
						t.Errorf("probe %s: %v from %v, want ProtocolError", r.Address, r.Outcome, r.Reply)
					}
				}
				if !s.Quirks().NoPipelining {
					t.Error("pipelining still on after replies out of step")
				}
			})
		})
		t.Run("ProbeWith/"+code, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				srv := strayProbeServer(stray)
				defer srv.Close()
				s := open(t, srv)
				defer s.Close()
				alone, res := s.ProbeWith(t.Context(), []string{"rnd1@x.test"}, "jane@x.test", "bob@x.test")
				if alone[0].Outcome != ProtocolError {
					t.Errorf("probe: %v from %v, want ProtocolError", alone[0].Outcome, alone[0].Reply)
				}
				if got := outcomes(res); !slices.Equal(got, []Outcome{Accepted, MailboxNotFound}) {
					t.Errorf("batch: %v, want [Accepted MailboxNotFound]", got)
				}
			})
		})
	}
}

// TestProbeWithDistrustsProbesOfAFlushOutOfStep: when the batch that went
// with the probes gets a reply naming another address, the flush is out of
// step, and the probes' replies, read before, are no more trusted.
func TestProbeWithDistrustsProbesOfAFlushOutOfStep(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes("jane@x.test")
		inner := srv.Handlers["RCPT"]
		srv.Handlers["RCPT"] = func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if strings.Contains(cmd.Arg, "<jane@") && c.Index == 0 {
				return testsmtp.Reply{Raw: "550 5.1.1 <rnd1@x.test>: Recipient address rejected\r\n"}
			}
			return inner(c, cmd)
		}
		srv.Latency = 2 * time.Millisecond
		defer srv.Close()
		s := open(t, srv)
		defer s.Close()
		alone, res := s.ProbeWith(t.Context(), []string{"rnd1@x.test"}, "jane@x.test")
		if alone[0].Outcome != ProtocolError {
			t.Errorf("probe: %v from %v, want ProtocolError", alone[0].Outcome, alone[0].Reply)
		}
		if res[0].Outcome != Accepted {
			t.Errorf("jane: %v, want Accepted on the new connection", res[0].Outcome)
		}
	})
}
