package risk

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParkingMatch(t *testing.T) {
	p := DefaultParking
	for _, tc := range []struct {
		name    string
		obs     Observed
		service string
	}{
		{"sedo NS", Observed{NS: []string{"ns1.sedoparking.com.", "ns2.sedoparking.com."}}, "sedo"},
		{"bodis NS, any case", Observed{NS: []string{"NS1.Bodis.COM"}}, "bodis"},
		{"above wildcard", Observed{NS: []string{"ns1.above.com"}}, "above"},
		{"parkingcrew address", Observed{Addrs: []netip.Addr{netip.MustParseAddr("185.53.178.9")}}, "parkingcrew"},
		{"mapped v4", Observed{Addrs: []netip.Addr{netip.MustParseAddr("::ffff:91.195.240.94")}}, "sedo"},
		{"cname", Observed{CNAME: "traff-3.hugedomains.com."}, "hugedomains"},
		{"afternic", Observed{NS: []string{"ns2.afternic.com"}}, "afternic"},
	} {
		ev := p.Match(tc.obs)
		if ev == nil || ev.Service != tc.service || len(ev.Seen) == 0 || ev.Source != "tma2022" {
			t.Errorf("%s: %+v; want %s with what was seen", tc.name, ev, tc.service)
		}
	}
	ev := p.Match(Observed{NS: []string{"ns1.sedoparking.com", "ns2.sedoparking.com"}, Addrs: []netip.Addr{netip.MustParseAddr("91.195.240.1")}})
	if ev == nil || len(ev.Seen) != 3 || !strings.HasPrefix(ev.Seen[2], "A ") {
		t.Errorf("all of a service's matches: %+v", ev)
	}
}

// TestParkingNoFalseFlags: the name servers and addresses of ordinary
// hosting and DNS providers are not parking.
func TestParkingNoFalseFlags(t *testing.T) {
	for _, ns := range []string{"ns1.google.com", "ns-1234.awsdns-12.org", "ns1-04.azure-dns.com", "ada.ns.cloudflare.com",
		"ns01.domaincontrol.com", "dns1.registrar-servers.com", "ns1.p01.dynect.net", "dns1.p08.nsone.net",
		"ns1.above-the-clouds.com", "ns1.bodis.com.evil.test", "xns1.sedoparking.com.other", "ns.sedoparking.co",
		"parkingcrew.net", "ns1.dan.company", "ns10.afternic.company"} {
		if ev := DefaultParking.Match(Observed{NS: []string{ns}}); ev != nil {
			t.Errorf("NS %s flagged as %s", ns, ev.Service)
		}
	}
	for _, a := range []string{"8.8.8.8", "142.250.74.46", "104.16.132.229", "185.53.180.1", "91.195.242.1"} {
		if ev := DefaultParking.Match(Observed{Addrs: []netip.Addr{netip.MustParseAddr(a)}}); ev != nil {
			t.Errorf("A %s flagged as %s", a, ev.Service)
		}
	}
	if n := DefaultParking.Services(); n < 40 {
		t.Errorf("the table knows %d services; want the TMA 2022 set (at least 40)", n)
	}
}

func TestParseParkingErrors(t *testing.T) {
	for _, bad := range []string{
		"sedo\tparking\tns\tns1.sedoparking.com",     // 4 fields
		"sedo\tparking\tmx\tmx.sedo.com\ttma2022",    // record type
		"sedo\tparking\tns\t*.*.sedo.com\ttma2022",   // two stars
		"sedo\tparking\tns\tns1.*.sedo.com\ttma2022", // star past the first label
		"sedo\tparking\ta\t91.195.240.0/33\ttma2022", // bad prefix
		"sedo\tparking\tns\tlocalhost\ttma2022",      // one label
	} {
		if _, err := ParseParking(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("ParseParking(%q) accepted it", bad)
		}
	}
}

func TestTrapLocalPart(t *testing.T) {
	for _, l := range []string{"abuse", "Postmaster", "spamtrap", "security+x", "noc"} {
		if TrapLocalPart(l) == nil {
			t.Errorf("%s not flagged", l)
		}
	}
	for _, l := range []string{"jane", "abuser", "postmasters", "info", "support"} {
		if ev := TrapLocalPart(l); ev != nil {
			t.Errorf("%s flagged: %+v", l, ev)
		}
	}
}

func TestDisposableMX(t *testing.T) {
	ev := DefaultDisposableMX.Match([]string{"MAIL.mailinator.com.", "mail2.mailinator.com"})
	if ev == nil || ev.Service != "mailinator" || len(ev.Seen) != 2 || ev.Source != "usercheck" {
		t.Errorf("mailinator MX: %+v", ev)
	}
	for _, h := range []string{"aspmx.l.google.com", "mx1.simplelogin.co", "mail.anonaddy.me", "us2.mx1.mailhostbox.com",
		"example-com.mail.protection.outlook.com", "mx.mailinator.com.evil.test", "xmail.mailinator.com"} {
		if ev := DefaultDisposableMX.Match([]string{h}); ev != nil {
			t.Errorf("MX %s flagged as %s", h, ev.Service)
		}
	}
	if _, err := ParseDisposableMX(strings.NewReader("mailinator\tns\tmail.mailinator.com\tusercheck\n")); err == nil {
		t.Error("a record type other than mx accepted")
	}
}
