package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/smtpprobe"
)

// Servers that judge by position (canary review findings 2 and 3): they
// accept the first recipients of a connection, or of a domain in a
// transaction, blindly and judge the rest. The canary at the end of the
// flush is refused; only the random address at the front of the flush
// shows that the acceptances before it may be blind.

// TestAcceptFirstOfConnection: a server that accepts the first k RCPTs
// of each connection whoever they are and judges the rest, for every
// domain it serves. Only the domains whose catch-all probe came first on
// the first connection see it accepted; on later connections (the error
// budget renews them) the first RCPTs are the batch's, and the canary at
// the end, refused, would prove them. Which addresses come first on a
// connection varies from run to run, so each k runs 5 times.
func TestAcceptFirstOfConnection(t *testing.T) {
	for _, k := range []int{1, 2, 4} {
		for rep := range 5 {
			t.Run(fmt.Sprintf("k=%d/%d", k, rep), func(t *testing.T) { acceptFirstOfConnection(t, k) })
		}
	}
}

func acceptFirstOfConnection(t *testing.T, k int) {
	synctest.Test(t, func(t *testing.T) {
		known := map[string]bool{}
		rules := map[string]domainRule{}
		var addrs []string
		rule := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
			key := fmt.Sprint("conn", c.Index)
			if s.count[key]++; s.count[key] <= k {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return s.honest(a)
		}
		for d := range 4 {
			dom := fmt.Sprintf("fc%d.com", d)
			rules[dom] = rule
			for i := range 10 {
				a := fmt.Sprintf("u%d@%s", i, dom)
				known[a] = i%2 == 0
				addrs = append(addrs, a)
			}
		}
		w, s := reviewWorld(t, known, rules)
		s.srv.HardErrorLimit = 6
		v := w.verifier()
		v.PerHostRate = 1000
		paced(v)
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			t.Logf("%s (exists %v): %s/%s", r.Input, known[r.Input], r.Status, r.Reason)
			if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
				t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
			}
		}
		t.Logf("%d connections", s.srv.Connections())
	})
}

// TestAcceptFirstOfDomainInTransaction: the first k RCPTs of each domain
// in a transaction are accepted blindly, the rest judged; two domains
// interleaved in each flush, each with its canary at the end.
func TestAcceptFirstOfDomainInTransaction(t *testing.T) {
	for _, k := range []int{1, 3} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				known, addrs := everyThird(8, "pd1.com", "pd2.com")
				perDom := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
					_, d, _ := strings.Cut(a, "@")
					// c.Rcpts restarts with each transaction: so does the key.
					key := fmt.Sprint(d, c.Index, "/", s.count[fmt.Sprint("tx", c.Index)])
					if c.Rcpts == 0 {
						s.count[fmt.Sprint("tx", c.Index)]++
						key = fmt.Sprint(d, c.Index, "/", s.count[fmt.Sprint("tx", c.Index)])
					}
					r := s.honest(a)
					if s.count[key]++; s.count[key] <= k {
						r = testsmtp.R(250, "2.1.5", "Ok")
					}
					if testing.Verbose() {
						t.Logf("server: conn %d rcpt %d %s: %d", c.Index, c.Rcpts, a, r.Code)
					}
					return r
				}
				w, _ := reviewWorld(t, known, map[string]domainRule{"pd1.com": perDom, "pd2.com": perDom})
				v := w.verifier()
				v.PerHostRate = 1000
				paced(v)
				for _, r := range v.VerifyAll(t.Context(), addrs) {
					t.Logf("%s (exists %v): %s/%s", r.Input, known[r.Input], r.Status, r.Reason)
					if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
						t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
					}
				}
			})
		})
	}
}

// positional runs n addresses of each of doms (every third one
// nonexistent) against a server that answers 250 where blind says so and
// honestly otherwise, and fails on any wrong definite verdict. blind runs
// for every RCPT, in the order the server sees them.
func positional(t *testing.T, doms []string, n int, setup func(*sharedServer), blind func(s *sharedServer, c *testsmtp.Conn, a string) bool) {
	t.Helper()
	known, addrs := everyThird(n, doms...)
	rules := map[string]domainRule{}
	rule := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		if blind(s, c, a) {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return s.honest(a)
	}
	for _, d := range doms {
		rules[d] = rule
	}
	w, s := reviewWorld(t, known, rules)
	v := w.verifier()
	v.PerHostRate = 1000
	paced(v)
	if setup != nil {
		setup(s)
	}
	deliverable := 0
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
			t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
		}
		if r.Status == Deliverable {
			deliverable++
		}
	}
	t.Logf("%d deliverable, %d connections", deliverable, s.srv.Connections())
}

// noPipelining makes the review server advertise no PIPELINING, 20 ms
// away: each command is a round trip of its own.
func noPipelining(s *sharedServer) {
	s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
	s.srv.Latency = 20 * time.Millisecond
}

// TestAcceptFirstOfConnectionWithoutPipelining: the server of
// TestAcceptFirstOfConnection without PIPELINING. Each batch is one
// address; the front goes before a domain's first batch of a transaction
// (the later ones continue a transaction the host judged), and a
// connection renewed for the error budget starts a transaction anew.
func TestAcceptFirstOfConnectionWithoutPipelining(t *testing.T) {
	for _, k := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				positional(t, []string{"nc0.com", "nc1.com", "nc2.com"}, 8, func(s *sharedServer) {
					noPipelining(s)
					s.srv.HardErrorLimit = 6
				}, func(s *sharedServer, c *testsmtp.Conn, _ string) bool {
					key := fmt.Sprint("conn", c.Index)
					s.count[key]++
					return s.count[key] <= k
				})
			})
		})
	}
}

// TestAcceptFirstOfTransactionWithoutPipelining: the first k RCPTs of
// each transaction are accepted blindly, without PIPELINING.
func TestAcceptFirstOfTransactionWithoutPipelining(t *testing.T) {
	for _, k := range []int{1, 3} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				positional(t, []string{"nt1.com", "nt2.com"}, 9, noPipelining, func(_ *sharedServer, c *testsmtp.Conn, _ string) bool {
					return c.Rcpts < k // RCPTs before this one in the transaction
				})
			})
		})
	}
}

// TestAcceptFirstOfDomainInTransactionWithoutPipelining: the first k
// RCPTs of each domain in a transaction are accepted blindly, without
// PIPELINING.
func TestAcceptFirstOfDomainInTransactionWithoutPipelining(t *testing.T) {
	for _, k := range []int{1, 3} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				positional(t, []string{"nd1.com", "nd2.com"}, 9, noPipelining, func(s *sharedServer, c *testsmtp.Conn, a string) bool {
					_, d, _ := strings.Cut(a, "@")
					tx := fmt.Sprint("tx", c.Index)
					if c.Rcpts == 0 {
						s.count[tx]++
					}
					key := fmt.Sprint(d, c.Index, "/", s.count[tx])
					s.count[key]++
					return s.count[key] <= k
				})
			})
		})
	}
}

// TestFrontedRule: an acceptance counts as judged only after an answer of
// its domain that was no acceptance, earlier in its transaction (and
// flush, where the server pipelines), with no random address accepted
// between; a judged answer read before a forgotten accepted front counts
// no more.
func TestFrontedRule(t *testing.T) {
	conn := connID{worker: 1, n: 1}
	at := func(seq, flush int, o smtpprobe.Outcome) answer {
		return answer{conn: conn, tx: 1, seq: seq, flush: flush, o: o, got: uint64(2 * flush), piped: true}
	}
	probe := func(a answer) answer { a.probe = true; return a }
	other := at(3, 2, smtpprobe.MailboxNotFound)
	other.tx = 2
	acc := at(5, 2, smtpprobe.Accepted)
	nopipe := func(a answer) answer { a.piped = false; return a }
	for _, tc := range []struct {
		name           string
		answers, blind []answer
		cut            uint64
		acc            answer
		want           bool
	}{
		{"front refused in the flush", []answer{at(4, 2, smtpprobe.MailboxNotFound)}, nil, 0, acc, true},
		{"a refusal naming no reason", []answer{at(4, 2, smtpprobe.Rejected)}, nil, 0, acc, true},
		{"a greylisted front", []answer{at(4, 2, smtpprobe.Greylisted)}, nil, 0, acc, false},
		{"a greylisted front, then one refused", []answer{at(3, 2, smtpprobe.Greylisted), at(4, 2, smtpprobe.MailboxNotFound)}, nil, 0, acc, true},
		{"a refused front, then one greylisted", []answer{at(3, 2, smtpprobe.MailboxNotFound), at(4, 2, smtpprobe.Greylisted)}, nil, 0, acc, true},
		{"nothing before it", nil, nil, 0, acc, false},
		{"a refusal after it only", []answer{at(6, 2, smtpprobe.MailboxNotFound)}, nil, 0, acc, false},
		{"front accepted", nil, []answer{at(4, 2, smtpprobe.Accepted)}, 0, acc, false},
		{"front answered 252", nil, []answer{at(4, 2, smtpprobe.CannotVerify)}, 0, acc, false},
		{"refused, then a front accepted", []answer{at(3, 2, smtpprobe.MailboxNotFound)}, []answer{at(4, 2, smtpprobe.Accepted)}, 0, acc, false},
		{"accepted front, then a refusal", []answer{at(4, 2, smtpprobe.MailboxNotFound)}, []answer{at(3, 2, smtpprobe.Accepted)}, 0, acc, true},
		{"refused, then a probe accepted", []answer{at(3, 2, smtpprobe.MailboxNotFound), probe(at(4, 2, smtpprobe.Accepted))}, nil, 0, acc, false},
		{"an address accepted between", []answer{at(3, 2, smtpprobe.MailboxNotFound), at(4, 2, smtpprobe.Accepted)}, nil, 0, acc, true},
		{"another transaction", []answer{other}, nil, 0, acc, false},
		{"an earlier flush, pipelined", []answer{at(3, 1, smtpprobe.MailboxNotFound)}, nil, 0, acc, false},
		{"an earlier flush, without pipelining", []answer{nopipe(at(3, 1, smtpprobe.MailboxNotFound))}, nil, 0, nopipe(acc), true},
		{"read before a forgotten accepted front", []answer{at(4, 2, smtpprobe.MailboxNotFound)}, nil, 4, acc, false},
		{"read after a forgotten accepted front", []answer{at(4, 2, smtpprobe.MailboxNotFound)}, nil, 3, acc, true},
	} {
		hr := &hostRun{answers: tc.answers, blind: tc.blind, blindCut: tc.cut}
		if got := hr.fronted(tc.acc); got != tc.want {
			t.Errorf("%s: fronted %v, want %v", tc.name, got, tc.want)
		}
	}
	perConn := acc
	perConn.perConn = true
	if !(&hostRun{}).fronted(perConn) {
		t.Error("a server judging the first recipients of a connection is compared across connections: fronted")
	}
}
