package smtpprobe

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// probe opens a session on srv through a net.Pipe dialer and probes addrs.
func probe(t *testing.T, p *Prober, srv *testsmtp.Server, addrs ...string) ([]Result, *Session, error) {
	t.Helper()
	p.Dialer = srv
	if p.HELO == "" {
		p.HELO = "verifier.example.net"
	}
	s, err := p.Open(t.Context(), "mx.example.com", "192.0.2.25:25")
	if err != nil {
		return nil, nil, err
	}
	res := s.Probe(t.Context(), addrs...)
	s.Close()
	return res, s, nil
}

func outcomes(rs []Result) []Outcome {
	var out []Outcome
	for _, r := range rs {
		out = append(out, r.Outcome)
	}
	return out
}

// bubble runs f in a synctest bubble with srv closed at the end, so that a
// goroutine or connection left behind fails the test.
func bubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, f)
}

func TestProbeAcceptAllOneSession(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{}
		defer srv.Close()
		var tr strings.Builder
		res, s, err := probe(t, &Prober{Transcript: &tr}, srv, "alice@example.com", "bob@example.com", "carol@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got := outcomes(res); !slices.Equal(got, []Outcome{Accepted, Accepted, Accepted}) {
			t.Errorf("outcomes = %v", got)
		}
		if srv.Connections() != 1 || srv.Count("MAIL") != 1 || srv.Count("RCPT") != 3 || srv.Count("QUIT") != 1 || srv.Count("DATA") != 0 {
			t.Errorf("server saw %d connections, %d MAIL, %d RCPT, %d QUIT, %d DATA", srv.Connections(), srv.Count("MAIL"), srv.Count("RCPT"), srv.Count("QUIT"), srv.Count("DATA"))
		}
		if res[0].Reply == nil || res[0].Reply.Code != 250 || res[0].Reply.Enhanced.String() != "2.1.5" {
			t.Errorf("deciding reply = %v", res[0].Reply)
		}
		if _, ok := s.Extension("pipelining"); !ok {
			t.Error("PIPELINING not seen in EHLO")
		}
		if strings.Contains(tr.String(), "alice@") || !strings.Contains(tr.String(), "RCPT TO:<***@example.com>") || !strings.Contains(tr.String(), "EHLO verifier.example.net") {
			t.Errorf("transcript not redacted as expected:\n%s", tr.String())
		}
	})
}

func TestProbeLogsNoLocalParts(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes("alice@example.com")
		defer srv.Close()
		var buf strings.Builder
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		probe(t, &Prober{Logger: logger}, srv, "alice@example.com", "secretname@example.com")
		out := buf.String()
		if strings.Contains(out, "alice") || strings.Contains(out, "secretname") {
			t.Errorf("log names a local part:\n%s", out)
		}
		if !strings.Contains(out, "outcome=mailbox_not_found") || !strings.Contains(out, "domain=example.com") || !strings.Contains(out, "smtp session ready") {
			t.Errorf("log lacks the protocol steps:\n%s", out)
		}
	})
}

func TestProbeTranscriptShowsLocalPartsOnRequest(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Mailboxes("alice@example.com")
		defer srv.Close()
		var tr strings.Builder
		probe(t, &Prober{Transcript: &tr, ShowLocalParts: true}, srv, "nobody@example.com")
		if !strings.Contains(tr.String(), "<nobody@example.com>: Recipient address rejected") {
			t.Errorf("transcript:\n%s", tr.String())
		}
	})
}

func TestProbePresets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		srv   func() *testsmtp.Server
		addrs []string
		want  []Outcome
		conns int
		mails int
	}{
		{"mailboxes", func() *testsmtp.Server { return testsmtp.Mailboxes("alice@example.com") },
			[]string{"alice@example.com", "nobody@example.com"}, []Outcome{Accepted, MailboxNotFound}, 1, 1},
		{"cannot verify", testsmtp.CannotVerify, []string{"a@example.com"}, []Outcome{CannotVerify}, 1, 1},
		{"greylist first attempt", testsmtp.Greylist, []string{"a@example.com", "b@example.com"}, []Outcome{Greylisted, Greylisted}, 1, 1},
		{"too many recipients", func() *testsmtp.Server { return testsmtp.TooManyRecipients(3) },
			[]string{"a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com", "g@x.com"},
			[]Outcome{Accepted, Accepted, Accepted, Accepted, Accepted, Accepted, Accepted}, 1, 3},
		{"421 mid-session", func() *testsmtp.Server { return testsmtp.CloseAfter(2) },
			[]string{"a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com"},
			[]Outcome{Accepted, Accepted, Accepted, Accepted, Accepted}, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				srv := tc.srv()
				defer srv.Close()
				res, _, err := probe(t, &Prober{}, srv, tc.addrs...)
				if err != nil {
					t.Fatal(err)
				}
				if got := outcomes(res); !slices.Equal(got, tc.want) {
					t.Errorf("outcomes = %v, want %v", got, tc.want)
				}
				if srv.Connections() != tc.conns || srv.Count("MAIL") != tc.mails {
					t.Errorf("%d connections and %d MAIL, want %d and %d\n%s", srv.Connections(), srv.Count("MAIL"), tc.conns, tc.mails, strings.Join(srv.Transcript(), "\n"))
				}
			})
		})
	}
}

func TestProbeGreylistRetrySucceeds(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Greylist()
		defer srv.Close()
		p := &Prober{Dialer: srv}
		for i, want := range []Outcome{Greylisted, Accepted} {
			s, err := p.Open(t.Context(), "mx", "192.0.2.25:25")
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Probe(t.Context(), "a@example.com")[0].Outcome; got != want {
				t.Errorf("attempt %d: %v, want %v", i, got, want)
			}
			s.Close()
			time.Sleep(5 * time.Minute) // the greylisting delay, in the bubble's fake time
		}
	})
}

// TestProbeStaysUnderErrorLimits probes 30 unknown addresses against
// Postfix's limits: the session must reconnect before the 10th error, so
// the server never slows down (it would sleep 1s per reply) or drops us.
func TestProbeStaysUnderErrorLimits(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Postfix()
		defer srv.Close()
		addrs := make([]string, 30)
		for i := range addrs {
			addrs[i] = "nobody" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"
		}
		start := time.Now()
		res, _, err := probe(t, &Prober{}, srv, addrs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Outcome != MailboxNotFound {
				t.Fatalf("address %d: %v (%v)", i, r.Outcome, r.Err)
			}
		}
		if el := time.Since(start); el >= time.Second {
			t.Errorf("took %v of fake time: the server's error sleep was reached", el)
		}
		if srv.Connections() < 4 {
			t.Errorf("%d connections for 30 errors, want at least 4 (8 errors each)", srv.Connections())
		}
		for _, l := range srv.Transcript() {
			if strings.Contains(l, "Too many errors") {
				t.Fatal("the server's hard error limit was reached")
			}
		}
	})
}

func TestOpenFailures(t *testing.T) {
	megaLine := "250 " + strings.Repeat("x", 1<<20) + "\r\n"
	endless := strings.Repeat("250-more\r\n", 5000) + "250 end\r\n"
	for _, tc := range []struct {
		name string
		srv  *testsmtp.Server
		p    Prober
		want Outcome
		err  error
		max  time.Duration // fake time the failure may take
	}{
		{"554 banner", testsmtp.Refused(), Prober{}, Blocked, nil, time.Second},
		{"421 banner", &testsmtp.Server{Banner: testsmtp.R(421, "4.7.0", "Too many connections, try again later")}, Prober{}, RateLimited, nil, time.Second},
		{"no banner", &testsmtp.Server{Banner: testsmtp.Reply{Hang: true}}, Prober{GreetingTimeout: 3 * time.Second}, Timeout, nil, 4 * time.Second},
		{"tarpit banner", testsmtp.Tarpit(time.Minute), Prober{GreetingTimeout: 10 * time.Second}, Timeout, nil, 11 * time.Second},
		{"1 MB reply line", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"EHLO": raw(megaLine)}}, Prober{}, ProtocolError, ErrLineTooLong, time.Second},
		{"endless multi-line reply", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"EHLO": raw(endless)}}, Prober{}, ProtocolError, ErrTooManyLines, time.Second},
		{"one byte per second", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"EHLO": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.Reply{Code: 250, Lines: []string{"slowly but surely, this reply takes a while"}, Drip: time.Second}
		}}}, Prober{CommandTimeout: 20 * time.Second}, Timeout, nil, 21 * time.Second},
		{"reset mid-reply", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"EHLO": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.Reply{Code: 250, Lines: []string{"half of this reply arrives"}, Reset: true}
		}}}, Prober{}, ConnectionFailed, nil, time.Second},
		{"invalid code", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"EHLO": raw("999 what\r\n")}}, Prober{}, ProtocolError, ErrMalformed, time.Second},
		{"EHLO and HELO refused", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"EHLO": fixed(testsmtp.R(502, "5.5.2", "Error: command not recognized")),
			"HELO": fixed(testsmtp.R(550, "5.7.1", "Helo command rejected: Host not found")),
		}}, Prober{}, Blocked, nil, time.Second},
		{"STARTTLS required, not offered", &testsmtp.Server{}, Prober{TLS: TLSRequired}, TLSError, ErrTLSRequired, time.Second},
		{"STARTTLS required, 454", &testsmtp.Server{Extensions: []string{"STARTTLS", "PIPELINING"}, Handlers: map[string]testsmtp.Handler{
			"STARTTLS": fixed(testsmtp.R(454, "4.7.0", "TLS not available due to local problem")),
		}}, Prober{TLS: TLSRequired}, TLSError, nil, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				defer tc.srv.Close()
				p := tc.p
				p.Dialer = tc.srv
				start := time.Now()
				s, err := p.Open(t.Context(), "mx.example.com", "192.0.2.25:25")
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if got := OutcomeOf(err); got != tc.want {
					t.Errorf("OutcomeOf(%v) = %v, want %v", err, got, tc.want)
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("err = %v, want %v", err, tc.err)
				}
				if el := time.Since(start); el > tc.max {
					t.Errorf("failure took %v, want at most %v", el, tc.max)
				}
			})
		})
	}
}

func raw(s string) testsmtp.Handler {
	return func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return testsmtp.Reply{Raw: s} }
}

func fixed(r testsmtp.Reply) testsmtp.Handler {
	return func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return r }
}

func TestProbeQuitsAfter554Banner(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := testsmtp.Refused()
		defer srv.Close()
		_, err := (&Prober{Dialer: srv}).Open(t.Context(), "mx", "192.0.2.25:25")
		var re *ReplyError
		if !errors.As(err, &re) || re.Reply.Code != 554 || re.Cmd != "CONNECT" {
			t.Fatalf("err = %v", err)
		}
		if srv.Count("QUIT") != 1 || srv.Count("EHLO") != 0 {
			t.Errorf("after a 554 banner the client sent %d QUIT and %d EHLO; want QUIT only", srv.Count("QUIT"), srv.Count("EHLO"))
		}
	})
}

func TestProbeHELOFallback(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"EHLO": fixed(testsmtp.R(502, "5.5.2", "Error: command not recognized"))}}
		defer srv.Close()
		res, s, err := probe(t, &Prober{}, srv, "a@example.com", "b@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got := outcomes(res); !slices.Equal(got, []Outcome{Accepted, Accepted}) || srv.Count("HELO") != 1 {
			t.Errorf("outcomes %v, %d HELO", got, srv.Count("HELO"))
		}
		if _, ok := s.Extension("PIPELINING"); ok {
			t.Error("extensions kept after HELO")
		}
	})
}

func TestProbeSTARTTLS(t *testing.T) {
	cfg, err := testsmtp.SelfSigned("mx.example.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("success", func(t *testing.T) {
		bubble(t, func(t *testing.T) {
			srv := &testsmtp.Server{TLS: cfg}
			defer srv.Close()
			p := &Prober{Dialer: srv}
			s, err := p.Open(t.Context(), "mx.example.com", "192.0.2.25:25")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.TLS() == nil || !s.TLS().HandshakeComplete {
				t.Fatal("no TLS after STARTTLS")
			}
			if got := s.Probe(t.Context(), "a@example.com")[0].Outcome; got != Accepted {
				t.Errorf("outcome %v", got)
			}
			if srv.Count("EHLO") != 2 {
				t.Errorf("%d EHLO, want 2 (again after STARTTLS)", srv.Count("EHLO"))
			}
		})
	})
	t.Run("handshake fails, opportunistic falls back", func(t *testing.T) {
		bubble(t, func(t *testing.T) {
			srv := &testsmtp.Server{TLS: &cfg2} // no certificate: every handshake fails
			defer srv.Close()
			res, s, err := probe(t, &Prober{}, srv, "a@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Outcome != Accepted || s.TLS() != nil || srv.Connections() != 2 {
				t.Errorf("outcome %v, TLS %v, %d connections; want accepted in the clear on a second connection", res[0].Outcome, s.TLS(), srv.Connections())
			}
		})
	})
	t.Run("handshake fails, required", func(t *testing.T) {
		bubble(t, func(t *testing.T) {
			srv := &testsmtp.Server{TLS: &cfg2}
			defer srv.Close()
			_, err := (&Prober{Dialer: srv, TLS: TLSRequired}).Open(t.Context(), "mx", "192.0.2.25:25")
			if OutcomeOf(err) != TLSError {
				t.Errorf("err = %v (%v), want a TLS error", err, OutcomeOf(err))
			}
		})
	})
	t.Run("454 opportunistic goes on", func(t *testing.T) {
		bubble(t, func(t *testing.T) {
			srv := &testsmtp.Server{Extensions: []string{"STARTTLS"}, Handlers: map[string]testsmtp.Handler{
				"STARTTLS": fixed(testsmtp.R(454, "4.7.0", "TLS not available due to local problem")),
			}}
			defer srv.Close()
			res, _, err := probe(t, &Prober{}, srv, "a@example.com")
			if err != nil || res[0].Outcome != Accepted {
				t.Errorf("%v %v", res, err)
			}
		})
	})
	t.Run("never", func(t *testing.T) {
		bubble(t, func(t *testing.T) {
			srv := &testsmtp.Server{TLS: cfg}
			defer srv.Close()
			probe(t, &Prober{TLS: TLSNever}, srv, "a@example.com")
			if srv.Count("STARTTLS") != 0 {
				t.Error("STARTTLS sent under TLSNever")
			}
		})
	})
}

var cfg2 = tlsConfigWithoutCertificate()

func TestProbeSMTPUTF8(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{}
		defer srv.Close()
		res, _, err := probe(t, &Prober{}, srv, "ascii@example.com", "用户@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got := outcomes(res); !slices.Equal(got, []Outcome{Accepted, Accepted}) {
			t.Errorf("outcomes %v", got)
		}
		if !slices.ContainsFunc(srv.Transcript(), func(l string) bool { return l == "C: MAIL FROM:<> SMTPUTF8" }) {
			t.Errorf("no MAIL FROM with SMTPUTF8:\n%s", strings.Join(srv.Transcript(), "\n"))
		}
	})
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{Extensions: []string{"PIPELINING"}}
		defer srv.Close()
		res, _, _ := probe(t, &Prober{}, srv, "用户@example.com", "ok@example.com")
		if got := outcomes(res); !slices.Equal(got, []Outcome{NeedsSMTPUTF8, Accepted}) {
			t.Errorf("without SMTPUTF8: %v", got)
		}
	})
}

func TestProbeRefusesInjection(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{}
		defer srv.Close()
		res, _, err := probe(t, &Prober{}, srv, "a@example.com>\r\nDATA\r\n", "b@example.com\x00", "c@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got := outcomes(res); !slices.Equal(got, []Outcome{ProtocolError, ProtocolError, Accepted}) || !errors.Is(res[0].Err, ErrInjection) {
			t.Errorf("outcomes %v, err %v", got, res[0].Err)
		}
		if srv.Count("DATA") != 0 || srv.Count("RCPT") != 1 {
			t.Errorf("server saw %d DATA and %d RCPT", srv.Count("DATA"), srv.Count("RCPT"))
		}
	})
	never := dialFunc(func(context.Context, string, string) (net.Conn, error) {
		t.Fatal("dialed despite an invalid configuration")
		return nil, nil
	})
	for _, p := range []*Prober{
		{Dialer: never, HELO: "evil\r\nMAIL FROM:<x>"},
		{Dialer: never, MailFrom: "a@b>\r\nRCPT TO:<c@d"},
		{Dialer: never, MailFrom: "a@b> SIZE=1"},
	} {
		if _, err := p.Open(t.Context(), "mx", "192.0.2.25:25"); !errors.Is(err, ErrConfig) {
			t.Errorf("Open with HELO %q, MAIL FROM %q: %v, want ErrConfig", p.HELO, p.MailFrom, err)
		}
	}
}

func TestProbeContextCancel(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": fixed(testsmtp.Reply{Hang: true})}}
		defer srv.Close()
		p := &Prober{Dialer: srv, CommandTimeout: time.Hour}
		s, err := p.Open(t.Context(), "mx", "192.0.2.25:25")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		res := s.Probe(ctx, "a@example.com", "b@example.com")
		s.Close()
		if el := time.Since(start); el > 4*time.Second {
			t.Errorf("cancelled probe took %v", el)
		}
		for _, r := range res {
			if r.Outcome != Timeout || !errors.Is(r.Err, context.DeadlineExceeded) {
				t.Errorf("%s: %v %v", r.Address, r.Outcome, r.Err)
			}
		}
	})
}

func TestProbeResetAfterConnectRetriesOnce(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": fixed(testsmtp.Reply{Drop: true})}}
		defer srv.Close()
		res, _, err := probe(t, &Prober{}, srv, "a@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != ConnectionFailed || srv.Connections() != 2 {
			t.Errorf("outcome %v after %d connections; want connection_failed after 2", res[0].Outcome, srv.Connections())
		}
	})
}

func TestProbeInvalidRcptReply(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": raw("999 what\r\n")}}
		defer srv.Close()
		res, _, _ := probe(t, &Prober{}, srv, "a@example.com")
		if res[0].Outcome != ProtocolError || !errors.Is(res[0].Err, ErrMalformed) {
			t.Errorf("outcome %v, err %v; want protocol_error with ErrMalformed", res[0].Outcome, res[0].Err)
		}
	})
}

// dialFunc adapts a function to Dialer.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}
