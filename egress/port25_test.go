package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPort25(t *testing.T) {
	out := func(server, provider string, res ConnResult) ConnOutcome {
		return ConnOutcome{Egress: "direct", Server: netip.MustParseAddr(server), Provider: provider, DNSAnswered: true, Result: res}
	}
	for _, tc := range []struct {
		name     string
		outcomes []ConnOutcome
		decideAt int // index of the outcome that decides; -1 never
	}{
		{"three unrelated timeouts", []ConnOutcome{
			out("192.0.2.1", "", TimedOut), out("198.51.100.1", "google", TimedOut), out("203.0.113.1", "", Refused),
		}, 2},
		{"one provider's servers are related", []ConnOutcome{
			out("192.0.2.1", "google", TimedOut), out("198.51.100.1", "google", TimedOut), out("203.0.113.1", "google", TimedOut),
		}, -1},
		{"one /24 is related", []ConnOutcome{
			out("192.0.2.1", "", TimedOut), out("192.0.2.2", "", TimedOut), out("192.0.2.3", "", Refused),
		}, -1},
		{"IPv6 /48s", []ConnOutcome{
			out("2001:db8:1::1", "", TimedOut), out("2001:db8:1:2::1", "", TimedOut), out("2001:db8:2::1", "", TimedOut), out("2001:db8:3::1", "", TimedOut),
		}, 3},
		{"one connection proves port 25 open", []ConnOutcome{
			out("192.0.2.1", "", TimedOut), out("198.51.100.1", "", Connected), out("203.0.113.1", "", TimedOut), out("100.64.0.1", "", TimedOut),
		}, -1},
		{"no DNS answer, no evidence", []ConnOutcome{
			{Egress: "direct", Server: netip.MustParseAddr("192.0.2.1"), Result: TimedOut},
			{Egress: "direct", Server: netip.MustParseAddr("198.51.100.1"), Result: TimedOut},
			{Egress: "direct", Server: netip.MustParseAddr("203.0.113.1"), Result: TimedOut},
		}, -1},
		{"other errors are no evidence", []ConnOutcome{
			out("192.0.2.1", "", OtherError), out("198.51.100.1", "", OtherError), out("203.0.113.1", "", OtherError),
		}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hooked []*Port25Error
			d := &Port25{Hook: func(e *Port25Error) { hooked = append(hooked, e) }}
			decided := -1
			for i, o := range tc.outcomes {
				if e := d.Observe(o); e != nil {
					if decided >= 0 {
						t.Fatalf("decided twice: at %d and %d", decided, i)
					}
					decided = i
				}
			}
			// Later outcomes never decide again.
			d.Observe(out("100.64.1.1", "", TimedOut))
			if decided != tc.decideAt {
				t.Fatalf("decided at %d, want %d", decided, tc.decideAt)
			}
			err := d.Blocked("direct")
			if tc.decideAt < 0 {
				if err != nil || len(hooked) != 0 {
					t.Errorf("Blocked = %v, hook %v; want nothing", err, hooked)
				}
				return
			}
			var pe *Port25Error
			if !errors.Is(err, ErrPort25Blocked) || !errors.As(err, &pe) || len(hooked) != 1 {
				t.Fatalf("Blocked = %v, hooked %d times", err, len(hooked))
			}
			if !strings.Contains(pe.Error(), "open outbound port 25") || len(pe.Servers) < 3 {
				t.Errorf("the error does not say what to do or why: %v", pe)
			}
			if d.Blocked("other") != nil {
				t.Error("another egress judged by this one's failures")
			}
		})
	}
}
