package smtpprobe

import (
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestResultPositions: each answered RCPT carries its connection and its
// place among the recipients answered on it, the probes of ProbeWith and
// ProbeEach included; a new connection starts the count over.
func TestResultPositions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes("a@example.com", "b@example.com")
		defer srv.Close()
		s := open(t, srv)
		defer s.Close()
		alone, rs := s.ProbeWith(t.Context(), []string{"probe1@example.com", "probe2@example.com"}, "a@example.com", "x@example.com")
		got := append(alone, rs...)
		for i, r := range got {
			if r.Conn != 1 || r.Seq != i+1 {
				t.Errorf("%s: connection %d, place %d; want 1, %d", r.Address, r.Conn, r.Seq, i+1)
			}
		}
		// Each probe has a transaction of its own; the batch rides in the
		// last probe's.
		if got[0].Tx == got[1].Tx || got[1].Tx != got[2].Tx || got[2].Tx != got[3].Tx {
			t.Errorf("transactions %d %d %d %d; want the probes apart and the batch in the last probe's", got[0].Tx, got[1].Tx, got[2].Tx, got[3].Tx)
		}
		// One flush carried them all (the server pipelines).
		for _, r := range got[1:] {
			if r.Flush != got[0].Flush || r.Flush == 0 {
				t.Errorf("%s: flush %d, want %d", r.Address, r.Flush, got[0].Flush)
			}
		}
		s.Recycle(t.Context())
		got = s.ProbeEach(t.Context(), "probe3@example.com", "probe4@example.com")
		got = append(got, s.Probe(t.Context(), "b@example.com")...)
		for i, r := range got {
			if r.Conn != 2 || r.Seq != i+1 {
				t.Errorf("after a new connection, %s: connection %d, place %d; want 2, %d", r.Address, r.Conn, r.Seq, i+1)
			}
		}
		if got[2].Flush <= got[1].Flush || got[1].Flush <= got[0].Flush {
			t.Errorf("flushes %d %d %d: want one each (a new connection asks one by one)", got[0].Flush, got[1].Flush, got[2].Flush)
		}
		for _, r := range s.Probe(t.Context(), "x\r\nRSET@example.com") {
			if r.Seq != 0 {
				t.Errorf("an address never asked has place %d", r.Seq)
			}
		}
	})
}
