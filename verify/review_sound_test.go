package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The review of the evidence rules of this session (front, harvest,
// form): servers that make a definite verdict wrong under them. See
// /work/notes/rev-sound.md. Its attacks that still give a wrong verdict (a
// protection that spares per client, across runs, the recipients it
// accepted before; list poisoning) are stated in doc.go's "What stays
// assumed" instead of tested here.

// twoDomainCase runs u0..u11 of honest.com (honest, every third one
// nonexistent) and of all.com (a catch-all: every address is accepted
// by the mailbox store, every third one has no mailbox of its own)
// against rule, which answers both on one shared server. It fails on any
// wrong definite verdict (noWrongVerdict). It returns the results and
// the server.
func twoDomainCase(t *testing.T, rule func(s *sharedServer, c *testsmtp.Conn, a string, catchAll bool) testsmtp.Reply, setup func(*sharedServer, *Verifier)) (map[string]Result, *sharedServer) {
	t.Helper()
	known, addrs := everyThird(12, "honest.com", "all.com")
	w, s := reviewWorld(t, known, map[string]domainRule{
		"honest.com": func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply { return rule(s, c, a, false) },
		"all.com":    func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply { return rule(s, c, a, true) },
	})
	v := w.verifier()
	v.PerHostRate = 1000
	paced(v)
	if setup != nil {
		setup(s, v)
	}
	got := map[string]Result{}
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		got[r.Input] = r
		t.Logf("%s (exists %v): %s/%s catch_all=%v", r.Input, known[r.Input], r.Status, r.Reason, r.CatchAll)
	}
	noWrongVerdict(t, known, got)
	if len(got) != len(addrs) {
		t.Errorf("%d results for %d addresses", len(got), len(addrs))
	}
	return got, s
}

// spareAccepted is a harvest protection that spares the recipients it
// has accepted before: once n recipients of a connection had no mailbox
// of their own, it answers 550 5.1.1 to every recipient of the
// connection it has not accepted on an earlier one. postmaster@ is
// accepted while the protection sleeps and refused in its spell like
// any other new recipient (so this is not the postmaster exemption that
// doc.go states as assumed). A control (an address the host accepted
// before) is exactly what it spares.
func spareAccepted(n int) func(s *sharedServer, c *testsmtp.Conn, a string, catchAll bool) testsmtp.Reply {
	return func(s *sharedServer, c *testsmtp.Conn, a string, catchAll bool) testsmtp.Reply {
		key := fmt.Sprint("unknown", c.Index)
		pm := strings.HasPrefix(a, "postmaster@")
		if s.count[key] >= n && s.count["ok "+a] == 0 {
			if s.known[a] {
				s.count["lied"]++
			}
			return lies["5.1.1"](a)
		}
		if !s.known[a] && !pm {
			s.count[key]++
		}
		if s.known[a] || catchAll || pm {
			if !pm {
				s.count["ok "+a]++
			}
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return lies["5.1.1"](a)
	}
}

// TestHarvestSparesAccepted: the protection of spareAccepted, after n
// unknown recipients on a connection. Its lies to existing mailboxes of
// honest.com are followed by the control it spares; its lies to
// all.com's fronts and canaries make all.com look judged.
func TestHarvestSparesAccepted(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				twoDomainCase(t, spareAccepted(n), nil)
			})
		})
	}
}
