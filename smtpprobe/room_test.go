package smtpprobe

import (
	"slices"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

func open(t *testing.T, srv *testsmtp.Server) *Session {
	t.Helper()
	p := &Prober{Dialer: srv, HELO: "verifier.example.net"}
	s, err := p.Open(t.Context(), "mx.example.com", "192.0.2.25:25")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unknowns(n int) []string {
	var out []string
	for i := range n {
		out = append(out, string(rune('a'+i))+"@example.com")
	}
	return out
}

// TestRoom: the room of the next flush follows the error budget (one past
// MaxErrors), a spent or recycled session reports a new connection's,
// and a server without pipelining takes one command a flush.
func TestRoom(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes()
		defer srv.Close()
		s := open(t, srv)
		defer s.Close()
		room := func(wantNow, wantFresh int) {
			t.Helper()
			if now, fresh := s.Room(); now != wantNow || fresh != wantFresh {
				t.Errorf("Room() = %d, %d; want %d, %d", now, fresh, wantNow, wantFresh)
			}
		}
		room(9, 9)
		s.Probe(t.Context(), unknowns(5)...)
		room(4, 9)
		s.Probe(t.Context(), unknowns(4)...)
		room(9, 9) // spent: the next Probe reconnects
		if n := srv.Connections(); n != 1 {
			t.Fatalf("%d connections before the next Probe", n)
		}
		s.Probe(t.Context(), unknowns(2)...)
		room(7, 9)
		s.Recycle(t.Context())
		room(9, 9)
		if n := srv.Count("QUIT"); n != 2 {
			t.Errorf("%d QUITs after Recycle, want 2", n)
		}
		if got := outcomes(s.Probe(t.Context(), unknowns(1)...)); !slices.Equal(got, []Outcome{MailboxNotFound}) {
			t.Errorf("after Recycle: %v", got)
		}
		if n := srv.Connections(); n != 3 {
			t.Errorf("%d connections, want 3", n)
		}
	})
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{Extensions: []string{"8BITMIME"}}
		defer srv.Close()
		s := open(t, srv)
		defer s.Close()
		if now, fresh := s.Room(); now != 1 || fresh != 1 {
			t.Errorf("without PIPELINING: Room() = %d, %d; want 1, 1", now, fresh)
		}
	})
}

// TestProbeWithReconnectsFirst: on a session spent by refusals, the
// catch-all probes and the batch go together on the new connection: one
// flush after EHLO, not a probe alone first.
func TestProbeWithReconnectsFirst(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes("jane@example.com")
		srv.Latency = 20 * time.Millisecond
		defer srv.Close()
		s := open(t, srv)
		defer s.Close()
		s.Probe(t.Context(), unknowns(9)...)
		before := srv.Flushes()
		alone, res := s.ProbeWith(t.Context(), []string{"x7q2@example.com"}, "jane@example.com", "bob@example.com")
		if got := outcomes(alone); !slices.Equal(got, []Outcome{MailboxNotFound}) {
			t.Errorf("probe: %v", got)
		}
		if got := outcomes(res); !slices.Equal(got, []Outcome{Accepted, MailboxNotFound}) {
			t.Errorf("batch: %v", got)
		}
		if n := srv.Flushes() - before; n != 3 {
			t.Errorf("%d flushes (QUIT, EHLO, probe and batch), want 3", n)
		}
		if n := srv.Connections(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
}
