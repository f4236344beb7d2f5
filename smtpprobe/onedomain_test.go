package smtpprobe

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// googleLike refuses, as Google's MX hosts do, a recipient whose domain is
// not the transaction's first, accepts alice@ of any domain and refuses
// the rest 5.1.1. It counts the domain refusals.
func googleLike(refused *int) *testsmtp.Server {
	var mu sync.Mutex
	first := map[int]string{}
	reset := func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
		mu.Lock()
		delete(first, c.Index)
		mu.Unlock()
		return testsmtp.R(250, "2.0.0", "OK")
	}
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
		"MAIL": reset, "RSET": reset,
		"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			a := strings.Trim(strings.TrimPrefix(cmd.Arg, "TO:"), "<>")
			dom := domainOf(a)
			mu.Lock()
			defer mu.Unlock()
			if f, ok := first[c.Index]; ok && f != dom {
				*refused++
				return testsmtp.R(451, "4.3.0", "Multiple destination domains per transaction is unsupported.  Please try again.")
			}
			first[c.Index] = dom
			if strings.HasPrefix(a, "alice@") {
				return testsmtp.R(250, "2.1.5", "OK")
			}
			return testsmtp.R(550, "5.1.1", "The email account that you tried to reach does not exist.")
		},
	}}
}

// The first domain refusal teaches the session Quirks.OneDomainPerTx: the
// refused recipients are asked again, each domain in a transaction of its
// own, and later Probes (and sessions told the quirk) open a new
// transaction where the domain changes, drawing no refusal. The limit is
// of domains, not recipients: the transaction's room stays.
func TestOneDomainPerTransaction(t *testing.T) {
	bubble(t, func(t *testing.T) {
		refused := 0
		srv := googleLike(&refused)
		defer srv.Close()
		p := &Prober{Dialer: srv, HELO: "verifier.example.net"}
		s, err := p.Open(t.Context(), "mx.example.com", "192.0.2.25:25")
		if err != nil {
			t.Fatal(err)
		}
		addrs := []string{"alice@a.example", "bob@a.example", "alice@b.example", "bob@b.example", "alice@a.example"}
		want := []Outcome{Accepted, MailboxNotFound, Accepted, MailboxNotFound, Accepted}
		if got := outcomes(s.Probe(t.Context(), addrs...)); !slices.Equal(got, want) {
			t.Errorf("first Probe: outcomes %v, want %v", got, want)
		}
		if !s.Quirks().OneDomainPerTx {
			t.Fatal("the session did not learn OneDomainPerTx from the 451 4.3.0")
		}
		if rcpts, _ := s.FreshRoom(); rcpts != p.maxRcpts() {
			t.Errorf("FreshRoom rcpts = %d, want %d: a domain limit is no recipient limit", rcpts, p.maxRcpts())
		}
		learned := refused
		res := s.Probe(t.Context(), addrs...)
		if got := outcomes(res); !slices.Equal(got, want) {
			t.Errorf("second Probe: outcomes %v, want %v", got, want)
		}
		if refused != learned {
			t.Errorf("%d more domain refusals after the quirk was learned, want none", refused-learned)
		}
		for i := 1; i < len(res); i++ {
			if sameTx := res[i].Tx == res[i-1].Tx; sameTx != (domainOf(addrs[i]) == domainOf(addrs[i-1])) {
				t.Errorf("%s and %s: same transaction %v", addrs[i-1], addrs[i], sameTx)
			}
		}
		s.Close()

		s2, err := p.Open(t.Context(), "mx.example.com", "192.0.2.25:25")
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		s2.SetQuirks(Quirks{OneDomainPerTx: true})
		if got := outcomes(s2.Probe(t.Context(), addrs...)); !slices.Equal(got, want) {
			t.Errorf("session told the quirk: outcomes %v, want %v", got, want)
		}
		if refused != learned {
			t.Errorf("a session told the quirk drew %d domain refusals, want none", refused-learned)
		}
	})
}
