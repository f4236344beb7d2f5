package smtpprobe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// BenchmarkProbe compares ways of probing 20 addresses at one server over
// a simulated network with a 5 ms round trip (testsmtp.Server.Latency):
// one session with PIPELINING, one session without it, and one connection
// per address (what verifiers that open a session per address do). It
// reports round trips per address and addresses per second.
//
//	go test -run '^$' -bench BenchmarkProbe -benchtime 50x ./smtpprobe
func BenchmarkProbe(b *testing.B) {
	const n = 20
	const rtt = 5 * time.Millisecond
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%d@example.com", i)
	}
	for _, mode := range []struct {
		name    string
		batch   int
		perAddr bool
	}{
		{"session/pipelined", 10, false},
		{"session/unpipelined", 1, false},
		{"connection-per-address", 10, true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			srv := &testsmtp.Server{Latency: rtt}
			defer srv.Close()
			p := &Prober{Dialer: srv, HELO: "bench.example.net", PipelineBatch: mode.batch, MaxRcpts: 50}
			ctx := context.Background()
			run := func(addrs []string) {
				s, err := p.Open(ctx, "mx.example.com", "192.0.2.25:25")
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range s.Probe(ctx, addrs...) {
					if r.Outcome != Accepted {
						b.Fatal(r.Outcome, r.Err)
					}
				}
				s.Close()
			}
			start := time.Now()
			for b.Loop() {
				if mode.perAddr {
					for _, a := range addrs {
						run([]string{a})
					}
				} else {
					run(addrs)
				}
			}
			el := time.Since(start)
			b.ReportMetric(float64(el)/float64(rtt)/float64(b.N*n), "rtt/addr")
			b.ReportMetric(float64(b.N*n)/el.Seconds(), "addrs/s")
		})
	}
}
