package diagnose

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// ID names the egress as package egress does (egress.Egress.ID): Name
// when set, else the SOCKS5 proxy's URL without credentials, the local
// address, or "direct". DoctorConfig.Recent is asked by it, so that the
// records the verifier kept under its egresses' IDs are found.
func (e *Egress) ID() string {
	if e.Name != "" {
		return e.Name
	}
	if e.Dialer == nil {
		if d, err := e.dialer(); err == nil {
			if eg, ok := d.(*egress.Egress); ok {
				return eg.ID()
			}
		}
	}
	return "direct"
}

// RecentWindow is how far back RecentFromStore looks when given no
// window: two days, the time the service's egress store keeps a record.
const RecentWindow = 48 * time.Hour

// RecentFromStore gives DoctorConfig.Recent from an egress health store:
// the service's (a JetStream bucket shared by its workers) or one a CLI
// run kept in a state file. Each (egress, provider) pair keeps the
// evidence of its last adverse change (a block, a throttle, a soft limit
// that a canary found), whatever its state now; those of the egress
// within window (zero: RecentWindow) before now are its events, newest
// first.
func RecentFromStore(s egress.Store, window time.Duration) RecentEvents {
	if window <= 0 {
		window = RecentWindow
	}
	return func(_ context.Context, id string) ([]Event, error) {
		es, err := s.List()
		if err != nil {
			return nil, err
		}
		since := time.Now().Add(-window)
		out := []Event{}
		for _, e := range es {
			ev := e.Record.Evidence
			if e.Key.Egress != id || ev == nil || ev.At.Before(since) {
				continue
			}
			kind := "throttle"
			switch ev.Finding.Verdict {
			case egress.Blocked:
				kind = "block"
			case egress.SoftLimited:
				kind = "soft_limit"
			}
			provider := e.Key.Provider
			if strings.HasPrefix(provider, "server:") {
				provider = "" // an unidentified server: its name says it
			}
			out = append(out, Event{Time: ev.At, Server: ev.Host, Provider: provider, Kind: kind, Reply: ev.Reply.String()})
		}
		slices.SortStableFunc(out, func(a, b Event) int { return b.Time.Compare(a.Time) })
		return out, nil
	}
}
