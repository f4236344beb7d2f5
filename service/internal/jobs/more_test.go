package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/service/internal/fakeworld"
	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
)

// TestGreylistedGoBackToTheBus: a greylisted address is sent back with
// NakWithDelay and verified on a later delivery, to a definite verdict.
func TestGreylistedGoBackToTheBus(t *testing.T) {
	w := fakeworld.New()
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	srv := testsmtp.GreylistFor(1, "jane@grey.com", "bob@grey.com")
	w.Route("grey.com", w.Server(srv))
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	startStack(t, b, w, nil)
	j, err := b.Submit(context.Background(), Spec{}, lines([]string{"jane@grey.com", "bob@grey.com", "nobody@grey.com"}))
	if err != nil {
		t.Fatal(err)
	}
	j = waitDone(t, b, j.ID, 60*time.Second)
	res := allResults(t, b, j.ID, 10)
	want := []verify.Status{verify.Deliverable, verify.Deliverable, verify.Undeliverable}
	for i, st := range want {
		if res[i].Status != st {
			t.Errorf("%s: %s/%s; want %s after the greylisting", res[i].Input, res[i].Status, res[i].Reason, st)
		}
	}
	if n := srv.Count("RCPT"); n < 6 {
		t.Errorf("the server saw %d RCPTs; want each recipient at least twice", n)
	}
}

// TestDeadLetter: a task no worker finishes in MaxDeliver deliveries ends
// unknown with the reason, and the job completes.
func TestDeadLetter(t *testing.T) {
	b := openBus(t, Config{Partitions: 1, MaxDeliver: 2, AckWait: 300 * time.Millisecond})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := fakeworld.New()
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	var wg sync.WaitGroup
	for _, p := range []interface{ Run(context.Context) error }{&Scheduler{Bus: b, Verifier: w.Verifier()}, &Janitor{Bus: b}, &Aggregator{Bus: b}} {
		wg.Go(func() { _ = p.Run(ctx) })
	}
	defer wg.Wait()
	defer cancel()
	j, err := b.Submit(ctx, Spec{}, lines([]string{"jane@example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	// A worker that takes the task and dies, every time.
	cons, err := b.JS.Consumer(ctx, WorkStream, partitionConsumer(0))
	if err != nil {
		t.Fatal(err)
	}
	took := 0
	deadline := time.Now().Add(20 * time.Second)
	for took < 2 && time.Now().Before(deadline) {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second), jetstream.FetchPriorityGroup(priorityGroup))
		if err != nil {
			t.Fatal(err)
		}
		for range batch.Messages() {
			took++
		}
	}
	if took != 2 {
		t.Fatalf("took the task %d times; want MaxDeliver (2)", took)
	}
	// Workers go on asking; the server then finds the task past its
	// deliveries and says so.
	wg.Go(func() {
		for ctx.Err() == nil {
			batch, err := cons.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond), jetstream.FetchPriorityGroup(priorityGroup))
			if err != nil {
				return
			}
			for m := range batch.Messages() {
				t.Errorf("the task came a third time: %s", m.Data())
			}
		}
	})
	got := waitDone(t, b, j.ID, 20*time.Second)
	res := allResults(t, b, j.ID, 10)
	if got.Done != 1 || res[0].Status != verify.Unknown || !strings.Contains(res[0].Error, "dead-lettered") {
		t.Fatalf("job %+v, result %+v; want one unknown result naming the dead letter", got, res[0])
	}
	dead, err := b.JS.Stream(ctx, DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := dead.Info(ctx); info.State.Msgs != 1 {
		t.Errorf("%d dead letters; want 1", info.State.Msgs)
	}
}

func TestCancelDropsTheRest(t *testing.T) {
	w := fakeworld.New()
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	slow := testsmtp.Mailboxes()
	slow.ReplyDelay = 50 * time.Millisecond
	w.Route("slow.com", w.Server(slow))
	b := openBus(t, Config{Partitions: 1, MaxAckPending: 20})
	defer b.Close()
	startStack(t, b, w, nil)
	var addrs []string
	for i := range 300 {
		addrs = append(addrs, fmt.Sprintf("u%d@slow.com", i))
	}
	j, err := b.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := b.Cancel(context.Background(), "someone else", j.ID); err != ErrNotFound {
		t.Errorf("another owner's cancel: %v; want ErrNotFound", err)
	}
	c, err := b.Cancel(context.Background(), "", j.ID)
	if err != nil || c.State != Canceled {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	// What a worker holds (MaxAckPending) is finished and dropped; the
	// rest is never probed.
	time.Sleep(3 * time.Second)
	after, _ := b.Get(context.Background(), "", j.ID)
	if n := slow.Count("RCPT"); n >= len(addrs) {
		t.Errorf("%d RCPTs for %d addresses; want the canceled rest unprobed", n, len(addrs))
	}
	if after.State != Canceled || after.Done >= len(addrs) {
		t.Errorf("after cancel: %+v; want canceled before the end", after)
	}
}

func TestWebhookSignedAndOnce(t *testing.T) {
	type delivery struct {
		id, ts, sig string
		body        []byte
	}
	var mu sync.Mutex
	var got []delivery
	fails := 1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, delivery{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body})
		if fails > 0 { // the first attempt fails: retried
			fails--
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer hook.Close()
	w, addrs := smallWorld(2, 1)
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	secret := []byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	wh := &Webhooks{Bus: b, Secret: secret, AllowPrivate: true, Backoff: 50 * time.Millisecond}
	startStack(t, b, w, wh)
	j, err := b.Submit(context.Background(), Spec{WebhookURL: hook.URL + "/done"}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, b, j.ID, 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, _, _ := b.load(context.Background(), j.ID)
		if rec.Webhook == webhookSent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook state %q", rec.Webhook)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wh.sweep(context.Background()) // a sweep after delivery sends nothing more
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].id != got[1].id || got[0].id != "job_"+j.ID+"_completed" {
		t.Fatalf("deliveries %d (ids %v); want one failed attempt and one retry with the same id", len(got), got)
	}
	d := got[1]
	mac := hmac.New(sha256.New, []byte("0123456789abcdef0123456789abcdef"))
	mac.Write([]byte(d.id + "." + d.ts + "."))
	mac.Write(d.body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); d.sig != want {
		t.Errorf("signature %q; want %q", d.sig, want)
	}
	if !strings.Contains(string(d.body), `"type":"job.completed"`) || !strings.Contains(string(d.body), j.ID) {
		t.Errorf("body %s", d.body)
	}
}

func TestWebhookGuard(t *testing.T) {
	for _, u := range []string{"ftp://x.example/", "http://127.0.0.1/", "http://[::1]:80/", "http://10.0.0.1/", "http://localhost/",
		"http://user:pw@hooks.example.com/", "/relative", "http://169.254.169.254/latest/meta-data"} {
		if CheckWebhookURL(u, false) == nil {
			t.Errorf("CheckWebhookURL(%q) accepted it", u)
		}
	}
	if err := CheckWebhookURL("https://hooks.example.com/mailverify", false); err != nil {
		t.Errorf("a public URL refused: %v", err)
	}
	// At delivery, the dialer refuses a private address a name resolved to.
	wh := &Webhooks{}
	wh.Init()
	if err := wh.guard("tcp", "127.0.0.1:80", nil); err == nil {
		t.Error("the delivery guard let a loopback address through")
	}
}

// TestCatchAllSharedAcrossWorkers: a worker that starts after another
// learned a domain's catch-all answer does not probe for it again.
func TestCatchAllSharedAcrossWorkers(t *testing.T) {
	w := fakeworld.New()
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	srv := testsmtp.Mailboxes("jane@example.com", "bob@example.com")
	w.Route("example.com", w.Server(srv))
	b := openBus(t, Config{Partitions: 1, PinnedTTL: time.Second})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := b.NewCatchAllStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runJob := func(addr string) {
		wctx, stop := context.WithCancel(ctx)
		wv := w.Verifier()
		wv.GreylistMaxWait, wv.CatchAllStore = time.Nanosecond, store
		n := &Node{Bus: b, Verifier: w.Verifier(), WorkerVerifier: wv, Worker: Worker{Drain: 100 * time.Millisecond}}
		done := make(chan struct{})
		go func() { _ = n.Run(wctx); close(done) }()
		j, err := b.Submit(ctx, Spec{}, lines([]string{addr}))
		if err != nil {
			t.Fatal(err)
		}
		if got := waitDone(t, b, j.ID, 20*time.Second); got.Counts["deliverable"] != 1 {
			t.Errorf("%s: %v; want deliverable", addr, got.Counts)
		}
		stop()
		<-done
	}
	runJob("jane@example.com")
	first := srv.Count("RCPT")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, _, ok := store.Load("example.com", "mx1.fake.test"); ok {
			if st.String() != "no" {
				t.Fatalf("shared answer %v; want no", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first worker's catch-all answer was never shared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	runJob("bob@example.com") // a new worker with a new Verifier
	// A random address goes after the acceptance in its flush (the
	// canary), since only a refusal after it shows the server did not
	// begin to accept everyone meanwhile, and another before it (the
	// front), since only a refusal before it shows the server was not
	// accepting its first recipients blindly; the flush ends with a
	// control (postmaster@example.com: a refusal before it would count).
	// The first worker, on a server not yet seen to refuse, also sends the
	// catch-all probe alone first, which is the first of the domain's
	// front pair (verify/positional.go); the second gets the first's answer
	// from the shared store (checked above) and sends none, so its pair is
	// two random addresses of its own.
	if n := srv.Count("RCPT") - first; n != 5 {
		t.Errorf("the second worker sent %d RCPTs; want 5 (front pair, address, canary and control)", n)
	}
	if first != 5 {
		t.Errorf("the first worker sent %d RCPTs; want 5 (catch-all probe and front as the pair, address, canary and control)", first)
	}
}
