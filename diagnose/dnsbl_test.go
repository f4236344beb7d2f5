package diagnose

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/miekg/dns"
)

// TestBlocklistZones: a zone is believed only when it lists its test
// entry 127.0.0.2; one that does not resolve, or refuses, is "could not
// check", never "not listed".
func TestBlocklistZones(t *testing.T) {
	zone, err := testdns.NewZone(
		"2.0.0.127.ok.test. 300 IN A 127.0.0.2",
		"9.2.0.192.ok.test. 300 IN A 127.0.0.4",
		"2.0.0.127.refusing.test. 300 IN A 127.255.255.254",
		"9.2.0.192.refusing.test. 300 IN A 127.255.255.254",
		"2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.2",
		"2.0.0.127.sekrit.zen.dq.spamhaus.net. 300 IN A 127.0.0.2",
		"9.2.0.192.sekrit.zen.dq.spamhaus.net. 300 IN A 127.0.0.10",
	)
	if err != nil {
		t.Fatal(err)
	}
	zone.Rcode["1.2.0.192.broken.test."] = dns.RcodeServerFailure
	addr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	q, _ := newQuerier([]string{addr})
	ctx := context.Background()
	clean, listed := net.ParseIP("192.0.2.1").To4(), net.ParseIP("192.0.2.9").To4()
	for _, tc := range []struct {
		zone, key string
		ip        net.IP
		want      Result
		finding   string
	}{
		{"ok.test", "", clean, Pass, "not listed"},
		{"ok.test", "", listed, Fail, "listed: 127.0.0.4"},
		{"gone.test", "", clean, Info, "could not check: the zone does not list its test entry"},
		{"refusing.test", "", clean, Info, "could not check: the zone refused the query for its test entry"},
		{"refusing.test", "", listed, Info, "could not check: the zone refused the query: 127.255.255.254"},
		{"broken.test", "", clean, Info, "could not check: the zone did not answer"},
		{"zen.spamhaus.org", "sekrit", listed, Fail, "listed: 127.0.0.10 (PBL"},
		{"zen.spamhaus.org", "sekrit", clean, Pass, "not listed"},
	} {
		bl := newBlocklists(q, SecBlocklists, tc.key)
		c := bl.check(ctx, tc.ip, tc.zone)
		if c.Result != tc.want || !strings.HasPrefix(c.Finding, tc.finding) {
			t.Errorf("%s %s: %s %q; want %s %q", tc.zone, tc.ip, c.Result, c.Finding, tc.want, tc.finding)
		}
		if tc.key != "" && (strings.Contains(c.ID+c.Finding+c.Fix+strings.Join(c.Evidence, ""), tc.key) || c.ID != "blocklist.zen.dq.spamhaus.net") {
			t.Errorf("the DQS key shows, or the zone is misnamed: %+v", c)
		}
	}
	// The test entry is asked once per zone, however many addresses.
	bl := newBlocklists(q, SecBlocklists, "")
	for range 3 {
		bl.check(ctx, clean, "ok.test")
	}
	if n := zone.Count(dns.TypeA, "2.0.0.127.ok.test."); n != 1+1 { // the first test above, and this one
		t.Errorf("test entry asked %d times; want 2", n)
	}
}
