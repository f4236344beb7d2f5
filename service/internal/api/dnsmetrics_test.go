package api

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/mailverify/mailverify/mx"
)

// TestDNSMetrics: the queries of watched resolvers are counters on the
// metrics page, summed over the resolvers.
func TestDNSMetrics(t *testing.T) {
	zone, err := testdns.NewZone("example.test. 300 IN MX 10 mx.example.test.")
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	m := NewMetrics()
	for range 2 {
		d := &mx.DNS{Servers: []string{addr}}
		m.WatchDNS(d)
		if _, err := d.LookupMX(t.Context(), "example.test"); err != nil {
			t.Fatal(err)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	q := regexp.MustCompile(`(?m)^mailverify_dns_queries_total (\d+)$`).FindStringSubmatch(body)
	if q == nil {
		t.Fatalf("no mailverify_dns_queries_total:\n%s", body)
	}
	if n, _ := strconv.Atoi(q[1]); n < 2 {
		t.Errorf("queries %d; want one per resolver at least", n)
	}
	for _, name := range []string{"timeouts", "retries", "waits"} {
		if !regexp.MustCompile(`(?m)^mailverify_dns_` + name + `_total 0$`).MatchString(body) {
			t.Errorf("mailverify_dns_%s_total not 0:\n%s", name, body)
		}
	}
}
