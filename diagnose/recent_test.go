package diagnose

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

func TestEgressID(t *testing.T) {
	for _, tc := range []struct {
		e    Egress
		want string
	}{
		{Egress{}, "direct"},
		{Egress{Name: "eu-1", LocalAddr: "192.0.2.7"}, "eu-1"},
		{Egress{LocalAddr: "192.0.2.7"}, "192.0.2.7"},
		{Egress{SOCKS5: "user:secret@proxy.test:1080"}, "socks5://proxy.test:1080"},
		{Egress{SOCKS5: "socks5://proxy.test"}, "socks5://proxy.test:1080"},
		{Egress{Dialer: &fakeNet{}}, "direct"},
	} {
		if got := tc.e.ID(); got != tc.want {
			t.Errorf("%+v: ID %q, want %q", tc.e, got, tc.want)
		}
	}
	for _, c := range []struct {
		d     Egress
		parse string
	}{{Egress{LocalAddr: "192.0.2.7"}, "192.0.2.7"}, {Egress{SOCKS5: "socks5://user:secret@proxy.test:1080"}, "socks5://user:secret@proxy.test:1080"}} {
		e, err := egress.Parse(c.parse)
		if err != nil {
			t.Fatal(err)
		}
		if c.d.ID() != e.ID() {
			t.Errorf("%s: doctor names it %q, the egress package %q", c.parse, c.d.ID(), e.ID())
		}
	}
}

// TestDoctorRecentFromStore: the evidence a health store keeps becomes
// doctor's recent events for that egress only, within the window, newest
// first, each kind explained (a soft limit too).
func TestDoctorRecentFromStore(t *testing.T) {
	now := time.Now()
	store := &egress.MemStore{}
	report := func(at time.Time, eg, provider, host string, v egress.Verdict, rep egress.Reply) {
		h := &egress.Health{Store: store, Now: func() time.Time { return at }}
		f := egress.Finding{Verdict: v, Provider: provider}
		if err := h.Report(egress.Key{Egress: eg, Provider: provider}, egress.Evidence{At: at, Host: host, Reply: rep, Finding: f}); err != nil {
			t.Fatal(err)
		}
	}
	banned := egress.Reply{Stage: egress.StageRcpt, Code: 550, Enhanced: "5.7.606", Text: "Access denied, banned sending IP [192.0.2.7]"}
	report(now.Add(-time.Hour), "192.0.2.7", "microsoft365", "x.mail.protection.outlook.com", egress.Blocked, banned)
	report(now.Add(-10*time.Minute), "192.0.2.7", "google", "gmail-smtp-in.l.google.com", egress.SoftLimited,
		egress.Reply{Stage: egress.StageRcpt, Code: 250, Enhanced: "2.1.5", Text: "OK"})
	report(now.Add(-72*time.Hour), "192.0.2.7", "yahoo", "mta5.am0.yahoodns.net", egress.Throttled,
		egress.Reply{Stage: egress.StageRcpt, Code: 421, Enhanced: "4.7.0", Text: "[TSS04] Messages from 192.0.2.7 temporarily deferred"})
	report(now.Add(-time.Minute), "192.0.2.9", "server:198.51.100.25:25", "mx.other.test", egress.Blocked, banned)

	recent := RecentFromStore(store, 0)
	evs, err := recent(context.Background(), "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != "soft_limit" || evs[1].Kind != "block" || evs[1].Provider != "microsoft365" ||
		!strings.Contains(evs[1].Reply, "5.7.606") {
		t.Fatalf("events %+v; want the soft limit, then the block (the 72 h old throttle is out of the window)", evs)
	}
	if evs, _ := recent(context.Background(), "192.0.2.9"); len(evs) != 1 || evs[0].Provider != "" || evs[0].Server != "mx.other.test" {
		t.Errorf("an unidentified server's event: %+v", evs)
	}

	cfg := doctorFixture(t)
	cfg.DNSBL, cfg.Providers, cfg.Recent = []string{}, []string{}, recent
	cfg.Egresses = []Egress{{Name: "192.0.2.7", Dialer: &fakeNet{}, PublicIP: "192.0.2.7", HELO: "out.good.test"},
		{Name: "clean", Dialer: &fakeNet{}, PublicIP: "192.0.2.7", HELO: "out.good.test"}}
	rep, err := Doctor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen, clean := doctorResults(rep, "192.0.2.7"), doctorResults(rep, "clean")
	if seen["evidence.block"] != Fail || seen["evidence.soft_limit"] != Warn || clean["evidence.recent"] != Pass {
		t.Errorf("192.0.2.7 %v, clean %v", seen, clean)
	}
	for _, c := range rep.Checks {
		if c.ID == "evidence.soft_limit" && !strings.Contains(c.Finding, "accepting every address") {
			t.Errorf("soft limit not explained: %q", c.Finding)
		}
	}
}
