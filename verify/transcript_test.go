package verify

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// sharedHost serves every domain given from one MX host, mx.shared.net.
func (w *world) sharedHost(srv *testsmtp.Server, domains ...string) {
	w.n++
	ip := netip.AddrFrom4([4]byte{127, 0, 3, byte(w.n)})
	w.res.IP["mx.shared.net"] = []netip.Addr{ip}
	w.router[netip.AddrPortFrom(ip, 25).String()] = srv
	for _, d := range domains {
		w.res.MX[d] = []*net.MX{{Host: "mx.shared.net", Pref: 10}}
	}
}

var anyAddress = regexp.MustCompile(`[^\s<>:"]+@[^\s<>:"]+`)

// TestTranscriptHoldsOnlyItsOwnAddress (issue #22, defect 6): with one
// session for two domains, a Result's transcript holds its own RCPT and
// that RCPT's reply, the shared lines (banner, EHLO, MAIL), and its
// domain's catch-all probe at most: no other address, of its domain or
// another. Pipelined, one command at a time, and with a server that
// advertises PIPELINING but breaks it.
func TestTranscriptHoldsOnlyItsOwnAddress(t *testing.T) {
	servers := map[string]func() *testsmtp.Server{
		"pipelining": func() *testsmtp.Server { return testsmtp.Mailboxes("jane@alpha.com", "bob@beta.com") },
		"no-pipelining": func() *testsmtp.Server {
			s := testsmtp.Mailboxes("jane@alpha.com", "bob@beta.com")
			s.Extensions = []string{"8BITMIME", "SMTPUTF8"}
			return s
		},
		"broken-pipelining": func() *testsmtp.Server {
			s := testsmtp.Mailboxes("jane@alpha.com", "bob@beta.com")
			s.OneCommandPerRead = true
			return s
		},
	}
	addrs := []string{"jane@alpha.com", "ghost@alpha.com", "carol@alpha.com", "bob@beta.com", "dave@beta.com", "erin@beta.com"}
	for name, newServer := range servers {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				defer w.router.close()
				w.sharedHost(newServer(), "alpha.com", "beta.com")
				v := w.verifier()
				v.Transcript = true
				for a, r := range verifyAll(t, v, addrs) {
					checkOwnTranscript(t, a, r, addrs)
				}
			})
		})
	}
}

// checkOwnTranscript checks the transcript of a's result r: addrs are
// the other people's addresses.
func checkOwnTranscript(t *testing.T, a string, r Result, addrs []string) {
	t.Helper()
	domain := a[strings.IndexByte(a, '@'):]
	other := map[string]string{"@alpha.com": "beta.com", "@beta.com": "alpha.com"}[domain]
	all := strings.Join(r.Transcript, "\n")
	if strings.Contains(all, other) {
		t.Errorf("%s: transcript mentions %s:\n%s", a, other, all)
	}
	for _, m := range anyAddress.FindAllString(all, -1) {
		// Its own address, and the random catch-all probe at its domain.
		if !strings.EqualFold(m, a) && (!strings.HasSuffix(m, domain) || slices.Contains(addrs, m)) {
			t.Errorf("%s: transcript names %s:\n%s", a, m, all)
		}
	}
	if r.SMTP == nil {
		t.Fatalf("%s: no SMTP reply (%v/%v)", a, r.Status, r.Reason)
	}
	want := []string{
		"S: 220 testsmtp ESMTP ready",
		"C: EHLO verifier.example.net",
		"C: MAIL FROM:<>",
		"C: RCPT TO:<" + a + ">",
		fmt.Sprintf("S: %d %s %s", r.SMTP.Code, r.SMTP.EnhancedCode, r.SMTP.Message),
	}
	for _, l := range want {
		if !strings.Contains("\n"+all+"\n", "\n"+l+"\n") {
			t.Errorf("%s: transcript lacks %q:\n%s", a, l, all)
		}
	}
}

// TestTranscriptStaysSmallOnALongSession: a session that serves batch
// after batch gives each Result a transcript of bounded size that still
// opens with the banner and holds its transaction's MAIL FROM.
func TestTranscriptStaysSmallOnALongSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var addrs []string
		for i := range 300 {
			addrs = append(addrs, fmt.Sprintf("user%d@alpha.com", i))
		}
		w := newWorld()
		defer w.router.close()
		w.sharedHost(testsmtp.Mailboxes(addrs...), "alpha.com")
		v := w.verifier()
		v.Transcript, v.Concurrency = true, 1
		for a, r := range verifyAll(t, v, addrs) {
			if r.Status != Deliverable {
				t.Errorf("%s: %v/%v", a, r.Status, r.Reason)
			}
			if len(r.Transcript) > 60 {
				t.Errorf("%s: %d transcript lines", a, len(r.Transcript))
			}
			checkOwnTranscript(t, a, r, addrs)
		}
	})
}
