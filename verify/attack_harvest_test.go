package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Harvest protections that lie in the mailbox's own words: from some
// count of unknown recipients on, the server answers 550 5.1.1 (or
// 5.2.1, 552 5.2.2) to everyone of the connection, the transaction, the
// domain or the client. A refusal counts only with an acceptance of its
// domain after it in its transaction and flush (answer.before), so none
// of them may turn an existing mailbox undeliverable; an honest server
// keeps its undeliverable verdicts.

// TestHarvestProtectionWith511: after 3 unknown recipients on a
// connection, the server answers 550 5.1.1 to everyone on it (a harvest
// protection that lies in the mailbox's own words, instead of the
// generic "550 Rejected" of TestHarvestProtectionIsNotEvidence). An
// existing mailbox refused so must not come out undeliverable: a control
// after the refusal (an address accepted before) would show it.
func TestHarvestProtectionWith511(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		canaryCase(t, "liar.com", func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
			key := fmt.Sprint("unknown", c.Index)
			if s.count[key] >= 3 {
				return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
			}
			if !s.known[a] {
				s.count[key]++
			}
			return s.honest(a)
		}, nil)
	})
}

// lie is a protection's answer to everyone: 5.1.1, 5.2.1 or 552 5.2.2.
type lie func(a string) testsmtp.Reply

var lies = map[string]lie{
	"5.1.1": func(a string) testsmtp.Reply {
		return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
	},
	"5.2.1": func(string) testsmtp.Reply {
		return testsmtp.R(550, "5.2.1", "The email account that you tried to reach is disabled")
	},
	"5.2.2": func(string) testsmtp.Reply {
		return testsmtp.R(552, "5.2.2", "The email account that you tried to reach is over quota")
	},
}

// A scope names the count a protection keeps: by connection,
// transaction, domain or client. s.mu is held.
type scope func(s *sharedServer, c *testsmtp.Conn, a string) string

// harvestRule answers honestly (postmaster@ accepted, as RFC 5321 asks)
// until the count under key of unknown recipients reaches n, then
// answers everyone with l. It counts the lies told to existing mailboxes
// under "lied".
func harvestRule(n int, key scope, l lie) domainRule {
	return func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		k := key(s, c, a)
		if s.count[k] >= n {
			if s.known[a] {
				s.count["lied"]++
			}
			return l(a)
		}
		if strings.HasPrefix(a, "postmaster@") {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		if !s.known[a] {
			s.count[k]++
		}
		return s.honest(a)
	}
}

func connScope(_ *sharedServer, c *testsmtp.Conn, _ string) string {
	return fmt.Sprint("conn", c.Index)
}

// txScope counts per transaction (countTx).
func txScope(s *sharedServer, c *testsmtp.Conn, _ string) string {
	return fmt.Sprint("conn", c.Index, "tx", s.count[fmt.Sprint("tx", c.Index)])
}

func domainScope(_ *sharedServer, _ *testsmtp.Conn, a string) string {
	_, d, _ := strings.Cut(a, "@")
	return "domain " + d
}

func clientScope(*sharedServer, *testsmtp.Conn, string) string { return "client" }

// noWrongVerdict fails on a definite verdict the world contradicts,
// mailbox_full included.
func noWrongVerdict(t *testing.T, known map[string]bool, got map[string]Result) {
	t.Helper()
	for a, r := range got {
		switch {
		case r.Status == Undeliverable && known[a]:
			t.Errorf("%s: undeliverable (%s), but the mailbox exists", a, r.Reason)
		case r.Reason == ReasonMailboxFull && known[a]:
			t.Errorf("%s: mailbox_full, said of everyone by a harvest protection", a)
		case r.Status == Deliverable && !known[a]:
			t.Errorf("%s: deliverable, but there is no such mailbox", a)
		}
	}
}

// TestHarvestProtectionVariants: the protection after N = 1, 2, 3
// unknown recipients of a connection, of a transaction, of a domain
// (across connections) and of the client (every connection), in each of
// the three words. The canaries and catch-all probes are unknown
// recipients too.
func TestHarvestProtectionVariants(t *testing.T) {
	scopes := map[string]scope{"connection": connScope, "transaction": txScope, "domain": domainScope, "client": clientScope}
	for name, key := range scopes {
		for _, n := range []int{1, 2, 3} {
			for word, l := range lies {
				t.Run(fmt.Sprintf("%s/N=%d/%s", name, n, word), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						var s *sharedServer
						got := canaryCase(t, "liar.com", harvestRule(n, key, l), func(ss *sharedServer, v *Verifier) {
							s = ss
							countTx(ss, v)
						})
						noWrongVerdict(t, liarKnown(), got)
						if s.count["lied"] == 0 {
							t.Errorf("the protection told no existing mailbox a lie: the attack did not happen")
						}
					})
				})
			}
		}
	}
}

func liarKnown() map[string]bool {
	known := map[string]bool{}
	for i := range 12 {
		known[fmt.Sprintf("u%d@liar.com", i)] = i%3 != 2
	}
	return known
}

// countTx has s count transactions per connection (MAIL FROM), for
// txScope. It runs before the first connection.
func countTx(s *sharedServer, _ *Verifier) {
	s.srv.Handlers["MAIL"] = func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.count[fmt.Sprint("tx", c.Index)]++
		return testsmtp.R(250, "2.1.0", "Ok")
	}
}

// TestHarvestEveryoneRefused: a server that answers 550 5.1.1 to every
// recipient from the first (the canaries and postmaster@ too) gives no
// verdict: its refusals are followed by no acceptance.
func TestHarvestEveryoneRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := canaryCase(t, "liar.com", func(_ *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			return lies["5.1.1"](a)
		}, nil)
		noWrongVerdict(t, liarKnown(), got)
	})
}

// TestHonestRefusalsKeepTheirVerdicts: an honest server (postmaster@
// accepted, as RFC 5321 asks) keeps every undeliverable verdict: for a
// domain of many addresses, and for domains of one address each, on one
// shared server and on servers of their own.
func TestHonestRefusalsKeepTheirVerdicts(t *testing.T) {
	honest := func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		if strings.HasPrefix(a, "postmaster@") {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return s.honest(a)
	}
	t.Run("one domain", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			got := canaryCase(t, "honest.com", honest, nil)
			for i := range 12 {
				a := fmt.Sprintf("u%d@honest.com", i)
				if want := i%3 == 2; (got[a].Status == Undeliverable) != want {
					t.Errorf("%s: %s/%s, want undeliverable %v", a, got[a].Status, got[a].Reason, want)
				}
			}
		})
	})
	t.Run("one address a domain, shared server", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			known, rules := map[string]bool{}, map[string]domainRule{}
			var addrs []string
			for i := range 10 {
				d := fmt.Sprintf("b2b%d.com", i)
				a := "jane@" + d
				known[a] = i%2 == 0
				rules[d] = honest
				addrs = append(addrs, a)
			}
			w, _ := reviewWorld(t, known, rules)
			v := w.verifier()
			v.PerHostRate = 1000
			paced(v)
			wantVerdicts(t, verifyAll(t, v, addrs), known)
		})
	})
	t.Run("one address a domain, own servers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld()
			defer w.router.close()
			known := map[string]bool{}
			var addrs []string
			for i := range 6 {
				d := fmt.Sprintf("own%d.com", i)
				a := "jane@" + d
				known[a] = i%2 == 0
				var mailboxes []string
				if known[a] {
					mailboxes = append(mailboxes, a)
				}
				w.add(d, testsmtp.Mailboxes(mailboxes...))
				addrs = append(addrs, a)
			}
			wantVerdicts(t, verifyAll(t, w.verifier(), addrs), known)
		})
	})
}

// wantVerdicts wants deliverable for the existing mailboxes and
// undeliverable for the others.
func wantVerdicts(t *testing.T, got map[string]Result, known map[string]bool) {
	t.Helper()
	for a, exists := range known {
		want := Undeliverable
		if exists {
			want = Deliverable
		}
		if got[a].Status != want {
			t.Errorf("%s (exists %v): %s/%s, want %s", a, exists, got[a].Status, got[a].Reason, want)
		}
	}
}

// acceptsPostmaster has h answer every recipient but postmaster@, which
// it accepts, as RFC 5321 (4.5.1) asks of every domain: a server that
// says "disabled" or "full" of everyone else is one whose refusals a
// control can show to be about the mailbox.
func acceptsPostmaster(h testsmtp.Handler) testsmtp.Handler {
	return func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		if strings.HasPrefix(rcptAddress(cmd.Arg), "postmaster@") {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return h(c, cmd)
	}
}
