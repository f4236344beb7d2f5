package jobs

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/mailverify/mailverify/verify"
)

// startCluster starts a JetStream cluster of n servers in this process, on
// loopback ports.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	for i := range n {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(s.Shutdown)
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatalf("%s did not start", s.Name())
		}
	}
	return servers
}

// aggregatorConsumer names the server that holds the aggregator's consumer
// on the results stream (the only consumer there), "" while there is none.
func aggregatorConsumer(ctx context.Context, b *Bus) (name, server string) {
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		return "", ""
	}
	l := s.ListConsumers(ctx)
	for ci := range l.Info() {
		if ci.Cluster != nil {
			name, server = ci.Name, ci.Cluster.Leader
		}
	}
	return name, server
}

// jobAt waits until the job has counted at least n results and returns it.
func jobAt(t *testing.T, b *Bus, id string, n int, within time.Duration) *Job {
	t.Helper()
	var j *Job
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if j, err = b.Get(context.Background(), "", id); err == nil && j.Done >= n {
			return j
		}
	}
	t.Fatalf("job %s after %v: %+v, %v; want %d done", id, within, j, err, n)
	return nil
}

// TestAggregatorSurvivesLostConsumer stops the server holding the
// aggregator's consumer (an ordered consumer has one replica, and the
// client is connected elsewhere, so nothing tells it): the job still
// finishes, each result counted once. "heartbeats" leaves it to the missed
// heartbeats alone, "backstop" to the check of the stream's last sequence (its
// heartbeats would take 60 s to be missed, longer than the test waits).
func TestAggregatorSurvivesLostConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	for _, c := range []struct {
		name                     string
		expiry, heartbeat, quiet time.Duration
	}{
		{"heartbeats", 2 * time.Second, time.Second, time.Hour},
		{"backstop", 2 * time.Minute, 30 * time.Second, 3 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, h, q := aggExpiry, aggHeartbeat, aggQuiet
			aggExpiry, aggHeartbeat, aggQuiet = c.expiry, c.heartbeat, c.quiet
			t.Cleanup(func() { aggExpiry, aggHeartbeat, aggQuiet = e, h, q })
			lostConsumer(t)
		})
	}
}

func lostConsumer(t *testing.T) {
	servers := startCluster(t, 3)
	b := openBus(t, Config{URL: servers[0].ClientURL(), Replicas: 3, Partitions: 2})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	const n = 200
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%d@example.com", i)
	}
	j, err := b.Submit(ctx, Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = (&Aggregator{Bus: b}).Run(ctx) })
	store := func(from, to int) {
		for i := from; i < to; i++ {
			r := verify.Result{Input: addrs[i], Status: verify.Deliverable, Reason: verify.ReasonAccepted}
			for try := 0; ; try++ {
				if _, err := b.storeResult(ctx, task{Job: j.ID, Index: i}, r); err == nil {
					break
				} else if try == 100 {
					t.Fatalf("store %d: %v", i, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	store(0, n/2)
	jobAt(t, b, j.ID, n/2, 30*time.Second)
	// The consumer has to be on a server the client is not connected to:
	// deleting it (which the client is told of) makes it start another.
	var holder string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		name, at := aggregatorConsumer(ctx, b)
		if at != "" && at != servers[0].Name() {
			holder = at
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the aggregator's consumer is still on %q", at)
		}
		if name != "" {
			_ = b.JS.DeleteConsumer(ctx, ResultsStream, name)
			time.Sleep(time.Second)
		}
	}
	for _, s := range servers {
		if s.Name() == holder {
			s.Shutdown()
		}
	}
	store(n/2, n)
	got := jobAt(t, b, j.ID, n, 40*time.Second) // before heartbeats of 30 s are missed
	if got.State != Done || got.Done != n || got.Counts["deliverable"] != n || len(got.Counts) != 1 {
		t.Fatalf("job %+v; want done, %d deliverable", got, n)
	}
}
