package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// BenchmarkProgressLag stores a job's results as fast as the stream
// takes them, with the aggregator running, and reports how long after
// the last result the job's done count reached it (lag-ms) and the
// results stored a second.
func BenchmarkProgressLag(b *testing.B) {
	for range b.N {
		lag, rate := progressLag(b)
		b.ReportMetric(float64(lag.Milliseconds()), "lag-ms")
		b.ReportMetric(rate, "results/s")
	}
}

func progressLag(t testing.TB) (time.Duration, float64) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 20000
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%d@example.com", i)
	}
	j, err := b.Submit(ctx, Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&Aggregator{Bus: b}).Run(ctx)
	}()
	start := time.Now()
	for i, a := range addrs {
		f, err := b.storeResultAsync(task{Job: j.ID, Index: i}, verify.Result{Input: a, Status: verify.Deliverable, Reason: verify.ReasonAccepted})
		if err != nil {
			t.Fatal(err)
		}
		_ = f
		if i%1000 == 999 {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatal(err)
			}
		}
	}
	stored := time.Now()
	got := waitDone(t, b, j.ID, 30*time.Second)
	lag := time.Since(stored)
	if got.Done != n {
		t.Fatalf("done %d; want %d", got.Done, n)
	}
	cancel()
	<-done
	return lag, n / stored.Sub(start).Seconds()
}
