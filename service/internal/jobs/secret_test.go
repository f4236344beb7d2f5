package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
)

// TestWebhookGeneratedSecret: a service given no secret signs with one of
// its own per owner (never an empty key), the same after a restart, and
// a canceled job's webhook is sent too (job.canceled).
func TestWebhookGeneratedSecret(t *testing.T) {
	type delivery struct {
		id, ts, sig string
		body        []byte
	}
	got := make(chan delivery, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body}
	}))
	defer hook.Close()
	w, _ := smallWorld(2, 1)
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	dir := t.TempDir()
	ctx := context.Background()
	b := openBus(t, Config{DataDir: dir, Partitions: 2})
	alice, err := b.WebhookSecret(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := b.WebhookSecret(ctx, "bob")
	if !strings.HasPrefix(alice, "whsec_") || len(alice) < 40 || alice == bob {
		t.Fatalf("secrets %q and %q: want whsec_ secrets, one per owner", alice, bob)
	}
	b.Close()
	b = openBus(t, Config{DataDir: dir, Partitions: 2})
	defer b.Close()
	if again, _ := b.WebhookSecret(ctx, "alice"); again != alice {
		t.Fatalf("after a restart the secret is %q; want %q", again, alice)
	}
	startStack(t, b, w, &Webhooks{Bus: b, AllowPrivate: true, Backoff: 50 * time.Millisecond})
	// A job too slow to finish before it is canceled.
	j, err := b.Submit(ctx, Spec{Owner: "alice", WebhookURL: hook.URL}, lines([]string{"jane@unrouted.example"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Cancel(ctx, "alice", j.ID); err != nil {
		t.Fatal(err)
	}
	var d delivery
	select {
	case d = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook for the canceled job within 10 s")
	}
	if d.id != "job_"+j.ID+"_canceled" || !strings.Contains(string(d.body), `"type":"job.canceled"`) {
		t.Fatalf("delivery %s %s", d.id, d.body)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(alice, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.id + "." + d.ts + "."))
	mac.Write(d.body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); d.sig != want {
		t.Errorf("signature %q; want %q (alice's secret)", d.sig, want)
	}
	empty := hmac.New(sha256.New, nil)
	empty.Write([]byte(d.id + "." + d.ts + "."))
	empty.Write(d.body)
	if d.sig == "v1,"+base64.StdEncoding.EncodeToString(empty.Sum(nil)) {
		t.Error("signed with an empty key")
	}
}

// TestWebhookThroughDNS: a webhook host is resolved through the DNS
// server the service was given, not the system's.
func TestWebhookThroughDNS(t *testing.T) {
	got := make(chan string, 2)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Host }))
	defer hook.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hook.URL, "http://"))
	zone, err := testdns.NewZone("hooks.example.test. 300 IN A 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	w, addrs := smallWorld(1, 1)
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	startStack(t, b, w, &Webhooks{Bus: b, AllowPrivate: true, DNS: dnsAddr, Backoff: 50 * time.Millisecond})
	j, err := b.Submit(context.Background(), Spec{WebhookURL: "http://hooks.example.test:" + port + "/done"}, lines(addrs[:1]))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case host := <-got:
		if host != "hooks.example.test:"+port {
			t.Errorf("Host %q", host)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no webhook for job %s through the given DNS", j.ID)
	}
}
