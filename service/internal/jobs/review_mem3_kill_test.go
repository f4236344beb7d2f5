package jobs

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// killedBus is the bus of TestReviewMem3StackKilledWithWebhooks: a task a
// killed node held comes back after AckWait, and its partitions move after
// PinnedTTL (the least the bus takes), so the short times keep the test's
// waiting to a few seconds a kill (57-84 s under -race with the defaults).
var killedBus = Config{Partitions: 2, PinnedTTL: 2 * time.Second, AckWait: 2 * time.Second}

// TestReviewMem3StackKilledWithWebhooks: the whole node (scheduler,
// workers, aggregator, webhooks) is stopped at random points while three
// jobs with webhooks run, the stored position set back as a kill inside
// the 15 s window leaves it, and the bus reopened once. Each job ends done
// with every entry once, and its job.completed webhook is sent once.
func TestReviewMem3StackKilledWithWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a node six times")
	}
	var mu sync.Mutex
	hooks := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks[r.Header.Get("webhook-id")+" "+string(body[:min(len(body), 40)])]++
		mu.Unlock()
	}))
	defer hook.Close()
	w, addrs := smallWorld(40, 3)
	t.Cleanup(w.Close)
	cfg := killedBus
	cfg.DataDir = t.TempDir()
	b := openBus(t, cfg)
	defer func() { b.Close() }()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed) // the kill points, to replay a failure
	rng := rand.New(rand.NewPCG(seed, 2))
	sizes := map[string]int{}
	for _, n := range []int{1, 50, 100} {
		in := make([]string, n)
		for i := range in {
			in[i] = addrs[i%len(addrs)]
		}
		j, err := b.Submit(context.Background(), Spec{WebhookURL: hook.URL}, lines(in))
		if err != nil {
			t.Fatal(err)
		}
		sizes[j.ID] = n
	}
	wh := func() *Webhooks { return &Webhooks{Bus: b, AllowPrivate: true, Backoff: 50 * time.Millisecond} }
	s := startStack(t, b, w, wh())
	for round := range 6 {
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		s.stop()
		mem3Rewind(t, b, mem3Position(t, b)-min(mem3Position(t, b), uint64(rng.IntN(150))))
		if round == 2 {
			b.Close()
			b = openBus(t, cfg)
		}
		s = startStack(t, b, w, wh())
	}
	for id, n := range sizes {
		j := waitDone(t, b, id, 90*time.Second)
		if j.Done != n {
			t.Errorf("job %s: done %d; want %d", id, j.Done, n)
		}
		if got := allResults(t, b, id, 97); len(got) != n {
			t.Errorf("job %s: %d results in pages; want %d", id, len(got), n)
		}
		if v := revExport(t, b, id); len(v.status) != n || len(v.twice) > 0 {
			t.Errorf("job %s: export has %d entries (twice: %v); want %d once", id, len(v.status), v.twice, n)
		}
	}
	time.Sleep(time.Second) // a second webhook would come within this
	s.stop()
	mu.Lock()
	defer mu.Unlock()
	for id := range sizes {
		var sent int
		for k, c := range hooks {
			if strings.Contains(k, id) {
				sent += c
			}
		}
		if sent != 1 {
			t.Errorf("job %s: %d webhooks; want 1 (all: %v)", id, sent, hooks)
		}
	}
}
