package api

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// TestEgressEndpoint: GET /v1/egress lists the node's egresses and the
// cluster's pairs with their evidence; the metrics carry the state per
// egress and provider, and no server address.
func TestEgressEndpoint(t *testing.T) {
	store := &egress.MemStore{}
	var metrics *Metrics
	e := newEnv(t, func(s *Server) {
		s.EgressStore = store
		s.Verifier.Egresses = []egress.Egress{{Name: "a", Source: netip.MustParseAddr("127.0.0.2")}}
		s.Verifier.EgressStore = store
		s.Metrics = NewMetrics()
		metrics = s.Metrics
		s.Metrics.WatchEgress(store)
		s.Verifier.OnEgressEvent = s.Metrics.EgressEvent
	})
	h := &egress.Health{Store: store, Hook: metrics.EgressEvent}
	rep := egress.Reply{Stage: egress.StageMail, Code: 550, Enhanced: "5.7.1", Text: "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org"}
	for _, p := range []string{"google", "server:192.0.2.7:25"} {
		if _, err := h.Observe(egress.Key{Egress: "a", Provider: p}, "mx.example.com", rep); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := e.do("GET", "/v1/egress", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct {
		Egresses []struct {
			Egress string `json:"egress"`
		} `json:"egresses"`
		Pairs []struct {
			Egress, Provider, State, Advice string
			Evidence                        *struct{ Host string }
		} `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Egresses) != 1 || got.Egresses[0].Egress != "a" {
		t.Errorf("egresses %+v; want a", got.Egresses)
	}
	if len(got.Pairs) != 2 || got.Pairs[0].State != "blocked" || got.Pairs[0].Evidence == nil || got.Pairs[0].Advice == "" {
		t.Errorf("pairs %s; want two blocked pairs with evidence and advice", body)
	}
	// The env's worker (it probes directly) declares itself.
	var decl struct {
		Workers []struct {
			ID       string `json:"id"`
			Egresses []any  `json:"egresses"`
			Avoids   []any  `json:"avoids"`
		} `json:"workers"`
	}
	for deadline := time.Now().Add(10 * time.Second); len(decl.Workers) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body := e.do("GET", "/v1/egress", "", "")
		if err := json.Unmarshal([]byte(body), &decl); err != nil {
			t.Fatal(err)
		}
	}
	if len(decl.Workers) != 1 || decl.Workers[0].ID == "" || decl.Workers[0].Egresses == nil || len(decl.Workers[0].Egresses) != 0 || decl.Workers[0].Avoids == nil {
		t.Errorf("workers %+v; want the env's worker, with no egress (direct) and avoiding nothing", decl.Workers)
	}
	_, m := e.do("GET", "/metrics", "", "")
	for _, want := range []string{`mailverify_egress_state{egress="a",provider="google",state="blocked"} 1`,
		`mailverify_egress_state{egress="a",provider="other",state="blocked"} 1`,
		`mailverify_egress_events_total{egress="a",provider="google",to="blocked"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "192.0.2.7") {
		t.Errorf("metrics name a server address")
	}
}
