package verify

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
	"github.com/mailverify/mailverify/syntax"
)

// testPolicy accepts the reserved .example names of the benchmark.
var testPolicy = func() syntax.Policy { p := syntax.Default; p.AllowSpecialUse = true; return p }()

// BenchmarkBatch verifies 1,000 addresses over 10 domains against testsmtp
// servers behind a simulated network with a 5 ms round trip, with
// VerifyAll (sessions shared per domain) and, in the same run, with one
// Verify call (so one session) per address. It reports SMTP connections,
// round trips per address (client flushes) and wall time per batch.
//
//	go test -run '^$' -bench BenchmarkBatch -benchtime 1x ./verify
func BenchmarkBatch(b *testing.B) {
	const domains, perDomain = 10, 100
	const rtt = 5 * time.Millisecond
	var addrs []string
	for d := range domains {
		for i := range perDomain {
			addrs = append(addrs, fmt.Sprintf("user%d@domain%d.example", i, d))
		}
	}
	for _, mode := range []struct {
		name       string
		pipelining bool
		perAddress bool
	}{
		{"VerifyAll/pipelined", true, false},
		{"VerifyAll/unpipelined", false, false},
		{"PerAddress/pipelined", true, true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var conns, flushes int
			var wall time.Duration
			for b.Loop() {
				res := &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}}
				rt := router{}
				var servers []*testsmtp.Server
				for d := range domains {
					name := fmt.Sprintf("domain%d.example", d)
					ext := []string{"8BITMIME", "SMTPUTF8"}
					if mode.pipelining {
						ext = append(ext, "PIPELINING")
					}
					srv := &testsmtp.Server{Latency: rtt, Extensions: ext}
					servers = append(servers, srv)
					ip := netip.AddrFrom4([4]byte{127, 0, 2, byte(d + 1)})
					res.MX[name] = []*net.MX{{Host: "mx." + name, Pref: 10}}
					res.IP["mx."+name] = []netip.Addr{ip}
					rt[netip.AddrPortFrom(ip, 25).String()] = srv
				}
				v := &Verifier{Resolver: res, Dialer: rt, AllowPrivate: true, HELO: "bench.example.net", PerHostRate: 1e6, PerHost: 10, Syntax: &testPolicy}
				start := time.Now()
				n := 0
				if mode.perAddress {
					var wg sync.WaitGroup
					sem := make(chan struct{}, 16)
					for _, a := range addrs {
						sem <- struct{}{}
						wg.Go(func() {
							defer func() { <-sem }()
							v.Verify(context.Background(), a)
						})
						n++
					}
					wg.Wait()
				} else {
					for range v.VerifyAll(context.Background(), addrs) {
						n++
					}
				}
				wall += time.Since(start)
				if n != len(addrs) {
					b.Fatalf("%d results", n)
				}
				for _, s := range servers {
					conns += s.Connections()
					flushes += s.Flushes()
					s.Close()
				}
			}
			per := float64(b.N * len(addrs))
			b.ReportMetric(float64(conns)/float64(b.N), "conns/batch")
			b.ReportMetric(float64(flushes)/per, "rtt/addr")
			b.ReportMetric(wall.Seconds()/float64(b.N), "s/batch")
			b.ReportMetric(math.Ceil(float64(perDomain)/20)*domains, "conn-bound")
		})
	}
}

// mxtestResolver is a fake DNS with n domains domain0.com, ... sharing a
// few MX hosts.
type mxtestResolver struct{ r *mxtest.Resolver }

func (m *mxtestResolver) init(n int) {
	m.r = &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}}
	for i := range n {
		host := fmt.Sprintf("mx%d.hosting.net", i%200)
		m.r.MX[fmt.Sprintf("domain%d.com", i)] = []*net.MX{{Host: host, Pref: 10}}
		m.r.IP[host] = []netip.Addr{netip.AddrFrom4([4]byte{127, 1, byte(i % 200 / 256), byte(i % 200)})}
	}
}
