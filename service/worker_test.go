package service

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/verify"
)

// TestWorkerSharesEgressHealth: a worker of its own (mailverify worker)
// keeps its egresses' health in the cluster's store, not in memory, so
// that a block it drew holds for every worker and past its restart; and
// it declares its egresses to the cluster.
func TestWorkerSharesEgressHealth(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := egress.Egress{Name: "ea", Source: netip.MustParseAddr("127.0.0.2"), Providers: []string{"google"}}
	w, err := NewWorker(ctx, Config{NATS: ns.ClientURL(), NewVerifier: func() (*verify.Verifier, error) {
		return &verify.Verifier{Egresses: []egress.Egress{e}}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		w.Close()
	}()
	v := w.w.Verifier
	if v.EgressStore == nil || v.Timeout != time.Minute {
		t.Fatalf("worker's verifier: store %v, timeout %v; want the cluster's store and a minute", v.EgressStore, v.Timeout)
	}
	k := egress.Key{Egress: "ea", Provider: "google"}
	h := &egress.Health{Store: v.EgressStore}
	if err := h.Report(k, egress.Evidence{At: time.Now(), Host: "gmail-smtp-in.l.google.com",
		Finding: egress.Finding{Verdict: egress.Blocked, Rule: "test"}}); err != nil {
		t.Fatal(err)
	}
	other, err := jobs.Open(ctx, jobs.Config{URL: ns.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	store, err := other.NewEgressStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if off, _, err := (&egress.Health{Store: store}).BackedOff(k); err != nil || !off {
		t.Errorf("another process sees ea backed off for google: %v, %v; want true", off, err)
	}
	var ws []jobs.Declaration
	for deadline := time.Now().Add(10 * time.Second); len(ws) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ws, err = other.Workers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(ws) != 1 || len(ws[0].Egresses) != 1 || ws[0].Egresses[0].ID != "ea" || len(ws[0].Egresses[0].Providers) != 1 {
		t.Errorf("declarations %+v; want the worker with ea pinned to google", ws)
	}
}
