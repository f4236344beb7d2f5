package jobs

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/service/internal/fakeworld"
)

// benchWorld is 1,000 addresses over 50 domains on 10 servers.
func benchWorld(rtt time.Duration) (*fakeworld.World, []string) {
	w := fakeworld.New()
	var addrs []string
	for i := range 1000 {
		addrs = append(addrs, fmt.Sprintf("user%d@d%d.com", i, i%50))
	}
	var hosts []string
	for range 10 {
		srv := testsmtp.Mailboxes(addrs...)
		srv.Latency = rtt
		hosts = append(hosts, w.Server(srv))
	}
	for d := range 50 {
		w.Route(fmt.Sprintf("d%d.com", d), hosts[d%10])
	}
	return w, addrs
}

// BenchmarkThroughput compares addresses per second through the bus (a
// job: upload, scheduler, worker, results, aggregator) with the streaming
// engine called directly, in the same run, against fake SMTP servers with
// no latency and with 20 ms round trips.
//
//	go test -run '^$' -bench Throughput -benchtime 5x ./service/internal/jobs
func BenchmarkThroughput(b *testing.B) {
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("direct/rtt=%v", rtt), func(b *testing.B) {
			w, addrs := benchWorld(rtt)
			defer w.Close()
			for b.Loop() {
				v := w.Verifier()
				v.PerHostRate, v.GreylistMaxWait = 10000, time.Nanosecond
				n := 0
				for range v.VerifySeq(context.Background(), slices.Values(addrs)) {
					n++
				}
				if n != len(addrs) {
					b.Fatalf("%d results", n)
				}
			}
			b.ReportMetric(float64(len(addrs)*b.N)/b.Elapsed().Seconds(), "addr/s")
		})
		b.Run(fmt.Sprintf("queue/rtt=%v", rtt), func(b *testing.B) {
			w, addrs := benchWorld(rtt)
			defer w.Close()
			bus, err := Open(context.Background(), Config{DataDir: b.TempDir(), Partitions: 8})
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Close()
			ctx, cancel := context.WithCancel(context.Background())
			wv := w.Verifier()
			wv.PerHostRate, wv.GreylistMaxWait = 10000, time.Nanosecond
			node := &Node{Bus: bus, Verifier: w.Verifier(), WorkerVerifier: wv, Worker: Worker{Drain: time.Second}}
			done := make(chan struct{})
			go func() { _ = node.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			for b.Loop() {
				j, err := bus.Submit(ctx, Spec{}, lines(addrs))
				if err != nil {
					b.Fatal(err)
				}
				for {
					got, err := bus.Get(ctx, "", j.ID)
					if err != nil {
						b.Fatal(err)
					}
					if got.State == Done {
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			b.ReportMetric(float64(len(addrs)*b.N)/b.Elapsed().Seconds(), "addr/s")
		})
	}
}
