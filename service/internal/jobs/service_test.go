package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/service/internal/fakeworld"
	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
)

// stack is the bus with every part running, as "mailverify serve" runs it.
type stack struct {
	bus    *Bus
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func openBus(t testing.TB, cfg Config) *Bus {
	t.Helper()
	if cfg.DataDir == "" && cfg.URL == "" {
		cfg.DataDir = t.TempDir()
	}
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func startStack(t *testing.T, b *Bus, w *fakeworld.World, wh *Webhooks) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{bus: b, cancel: cancel}
	wv := w.Verifier()
	wv.GreylistMaxWait = time.Nanosecond
	n := &Node{Bus: b, Verifier: w.Verifier(), WorkerVerifier: wv, Webhooks: wh, Worker: Worker{Drain: time.Second}}
	s.wg.Go(func() {
		if err := n.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("node: %v", err)
		}
	})
	t.Cleanup(s.stop)
	return s
}

func (s *stack) stop() {
	s.cancel()
	s.wg.Wait()
}

func lines(addrs []string) Inputs {
	return func(yield func(input.Entry) bool) error {
		for _, a := range addrs {
			if !yield(input.Entry{Raw: a, Addr: input.Clean(a)}) {
				return nil
			}
		}
		return nil
	}
}

// smallWorld has domains d0.com … on a few servers; each domain knows
// jane@ and bob@.
func smallWorld(domains, servers int) (*fakeworld.World, []string) {
	w := fakeworld.New()
	var known []string
	for d := range domains {
		known = append(known, fmt.Sprintf("jane@d%d.com", d), fmt.Sprintf("bob@d%d.com", d))
	}
	var hosts []string
	for range servers {
		hosts = append(hosts, w.Server(testsmtp.Mailboxes(known...)))
	}
	var addrs []string
	for d := range domains {
		w.Route(fmt.Sprintf("d%d.com", d), hosts[d%servers])
		addrs = append(addrs, fmt.Sprintf("jane@d%d.com", d), fmt.Sprintf("nobody@d%d.com", d))
	}
	return w, addrs
}

func waitDone(t testing.TB, b *Bus, id string, within time.Duration) *Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j, err := b.Get(context.Background(), "", id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == Done || j.State == Canceled {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %v: %d of %d done", id, j.State, within, j.Done, j.Total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allResults reads every result of a job, page by page.
func allResults(t *testing.T, b *Bus, id string, page int) map[int]verify.Result {
	t.Helper()
	out := map[int]verify.Result{}
	var cursor uint64
	for {
		p, err := b.Results(context.Background(), "", id, cursor, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range p.Results {
			var r struct {
				Index *int `json:"index"`
				verify.Result
			}
			if err := json.Unmarshal(line, &r); err != nil || r.Index == nil {
				t.Fatalf("result %s: %v (or no index)", line, err)
			}
			if _, dup := out[*r.Index]; dup {
				t.Fatalf("index %d has two results", *r.Index)
			}
			out[*r.Index] = r.Result
		}
		if len(p.Results) == 0 {
			return out
		}
		cursor = p.Cursor
	}
}

func TestJobEndToEnd(t *testing.T) {
	w, addrs := smallWorld(30, 4)
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	b := openBus(t, Config{Partitions: 4})
	defer b.Close()
	startStack(t, b, w, nil)
	addrs = append(addrs, "not an address", "jane@nowhere.com")
	j, err := b.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	if j.Total != len(addrs) || j.State != Queued {
		t.Fatalf("submitted job = %+v; want %d queued", j, len(addrs))
	}
	j = waitDone(t, b, j.ID, 30*time.Second)
	res := allResults(t, b, j.ID, 7)
	if len(res) != len(addrs) || j.Done != len(addrs) {
		t.Fatalf("%d results, job done %d; want %d", len(res), j.Done, len(addrs))
	}
	counts := map[string]int{}
	for i, a := range addrs {
		r := res[i]
		if r.Input != a {
			t.Errorf("result %d is for %q; want %q", i, r.Input, a)
		}
		want := verify.Deliverable
		switch {
		case strings.HasPrefix(a, "nobody@"), a == "not an address", a == "jane@nowhere.com":
			want = verify.Undeliverable
		}
		if r.Status != want {
			t.Errorf("%s: %s/%s; want %s", a, r.Status, r.Reason, want)
		}
		counts[r.Status.String()]++
	}
	for s, n := range counts {
		if j.Counts[s] != n {
			t.Errorf("job counts %v; results say %v", j.Counts, counts)
			break
		}
	}
}

// TestAggregatorCountsOnce runs two aggregators at once, then one again
// from the start of the stream: each result is counted once.
func TestAggregatorCountsOnce(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx := context.Background()
	const n = 600
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%d@example.com", i)
	}
	j, err := b.Submit(ctx, Spec{WebhookURL: "https://hooks.example.com/x"}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	var done sync.Map
	run := func(ctx context.Context, wg *sync.WaitGroup) {
		a := &Aggregator{Bus: b, OnDone: func(id string) {
			if _, again := done.LoadOrStore(id, true); again {
				t.Errorf("job %s finished twice", id)
			}
		}}
		wg.Go(func() { _ = a.Run(ctx) })
	}
	actx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run(actx, &wg)
	run(actx, &wg)
	for i, a := range addrs {
		stored, err := b.storeResult(ctx, task{Job: j.ID, Index: i}, verify.Result{Input: a, Status: verify.Deliverable, Reason: verify.ReasonAccepted})
		if err != nil || !stored {
			t.Fatalf("store %d: %v %v", i, stored, err)
		}
		if i%7 == 0 { // a redelivered task: a later copy, read as none
			if _, err := b.storeResult(ctx, task{Job: j.ID, Index: i}, verify.Result{Input: a, Status: verify.Unknown}); err != nil {
				t.Fatalf("a second result for %d: %v", i, err)
			}
		}
	}
	got := waitDone(t, b, j.ID, 30*time.Second)
	if got.Done != n || got.Counts["deliverable"] != n || len(got.Counts) != 1 {
		t.Fatalf("job %+v; want %d deliverable", got, n)
	}
	checkOnce(t, b, j.ID, n)
	stop()
	wg.Wait()
	// From the beginning again: nothing more is counted.
	if _, err := b.State.Put(ctx, positionKey, []byte("0")); err != nil {
		t.Fatal(err)
	}
	actx, stop = context.WithCancel(ctx)
	run(actx, &wg)
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	again, err := b.Get(ctx, "", j.ID)
	if err != nil || again.Done != n || again.Counts["deliverable"] != n {
		t.Fatalf("after reading the stream again: %+v, %v; want %d", again, err, n)
	}
	rec, _, _ := b.load(ctx, j.ID)
	if rec.Webhook != webhookPending {
		t.Errorf("webhook state %q; want pending", rec.Webhook)
	}
}

// checkOnce reads a finished job's results by pages, by export and by
// entry: each of its n entries once, with the first result stored
// (deliverable); and the later copies are gone from the stream.
func checkOnce(t *testing.T, b *Bus, id string, n int) {
	t.Helper()
	ctx := context.Background()
	check := func(how string, results [][]byte) {
		t.Helper()
		seen := map[int]bool{}
		for _, r := range results {
			var v struct {
				Index  int
				Status string
			}
			if err := json.Unmarshal(r, &v); err != nil || seen[v.Index] || v.Status != "deliverable" {
				t.Fatalf("%s: %s (seen before: %v, %v)", how, r, seen[v.Index], err)
			}
			seen[v.Index] = true
		}
		if len(seen) != n {
			t.Fatalf("%s: %d entries; want %d", how, len(seen), n)
		}
	}
	var paged [][]byte
	for after := uint64(0); ; {
		p, err := b.Results(ctx, "", id, after, 97)
		if err != nil {
			t.Fatal(err)
		}
		paged, after = append(paged, p.Results...), p.Cursor
		if !p.More {
			break
		}
	}
	check("pages", paged)
	var exported [][]byte
	if err := b.Export(ctx, "", id, func(r []byte) error { exported = append(exported, r); return nil }); err != nil {
		t.Fatal(err)
	}
	check("export", exported)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	byEntry, err := b.ResultsBatch(ctx, id, want)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range byEntry {
		if !bytes.Contains(r, []byte(`"deliverable"`)) {
			t.Fatalf("entry %d: %s", i, r)
		}
	}
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(jobResults(id)))
	if err != nil {
		t.Fatal(err)
	}
	var held uint64
	for _, c := range info.State.Subjects {
		held += c
	}
	if held != uint64(n) {
		t.Errorf("the stream holds %d results of the job; want %d (the copies deleted)", held, n)
	}
}
