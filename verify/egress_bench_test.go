package verify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// BenchmarkEgressPool verifies 120 addresses of 12 domains on one mail
// server (a real loopback listener, 2 ms per reply) from one egress and
// from two (source addresses 127.0.0.2 and .3), in the same run:
//   - tolerance binds: the provider profile allows one session at a time
//     per egress, the server's politeness (PerHost 4) does not bind, so
//     two egresses should carry about twice the work;
//   - politeness binds: PerHost 1, so the server sees one session at a
//     time whatever the number of egresses, and the wall time stays.
//
// It reports wall time per run, addresses per second and the most
// sessions the server had open at once.
//
//	go test -run '^$' -bench BenchmarkEgressPool -benchtime 3x ./verify
func BenchmarkEgressPool(b *testing.B) {
	const prof = `{"about": "bench", "profiles": [{"provider": "default", "per_minute": 100000, "per_hour": 1000000, "per_day": 10000000, "sessions": 1,
 "sources": {"per_minute": "bench", "per_hour": "bench", "per_day": "bench", "sessions": "bench"}}]}`
	profiles, err := egress.ParseProfiles(strings.NewReader(prof))
	if err != nil {
		b.Fatal(err)
	}
	var addrs []string
	for d := range 12 {
		for i := range 10 {
			addrs = append(addrs, fmt.Sprintf("user%d@bench%d-mail.com", i, d))
		}
	}
	for _, bind := range []struct {
		name    string
		perHost int
	}{{"tolerance-binds", 4}, {"politeness-binds", 1}} {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/egresses=%d", bind.name, n), func(b *testing.B) {
				var wall time.Duration
				maxOpen := 0
				for b.Loop() {
					l, err := net.Listen("tcp", "127.0.4.1:0")
					if err != nil {
						b.Skip(err)
					}
					srv := &testsmtp.Server{ReplyDelay: 2 * time.Millisecond}
					srv.Serve(l)
					res := &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}}
					for d := range 12 {
						res.MX[fmt.Sprintf("bench%d-mail.com", d)] = []*net.MX{{Host: "mx.bench-mail.com", Pref: 10}}
					}
					res.IP["mx.bench-mail.com"] = []netip.Addr{netip.MustParseAddr("127.0.4.1")}
					v := &Verifier{Resolver: res, AllowPrivate: true, HELO: "bench.example.net", ResolverCanary: "-",
						Port: l.Addr().(*net.TCPAddr).Port, PerHost: bind.perHost, PerHostRate: 1e6, Profiles: profiles}
					for i := range n {
						v.Egresses = append(v.Egresses, egress.Egress{Source: netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)})})
					}
					start := time.Now()
					k := 0
					for range v.VerifyAll(context.Background(), addrs) {
						k++
					}
					wall += time.Since(start)
					maxOpen = max(maxOpen, srv.MaxOpen())
					srv.Close()
					if k != len(addrs) {
						b.Fatalf("%d results", k)
					}
				}
				b.ReportMetric(wall.Seconds()/float64(b.N), "s/run")
				b.ReportMetric(float64(b.N*len(addrs))/wall.Seconds(), "addr/s")
				b.ReportMetric(float64(maxOpen), "max-sessions")
			})
		}
	}
}
