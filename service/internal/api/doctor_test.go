package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/egress"
)

func TestDoctorEndpoint(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		s.Doctor = func(ctx context.Context, _ diagnose.RecentEvents) (*diagnose.DoctorReport, error) {
			return diagnose.Doctor(ctx, diagnose.DoctorConfig{DNS: []string{"127.0.0.1:1"}, Providers: []string{}, Controls: []string{},
				Servers: []string{"127.0.0.1:1"}, DNSBL: []string{}, AllowPrivate: true, Timeout: 2 * time.Second,
				Egresses: []diagnose.Egress{{Name: "main", HELO: "probe.example.net", PublicIP: "192.0.2.7"}}})
		}
	})
	resp, body := e.do("GET", "/v1/doctor", "", "")
	var rep diagnose.DoctorReport
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Summary.Result != diagnose.Fail ||
		len(rep.Egresses) != 1 || rep.Egresses[0].Name != "main" {
		t.Fatalf("doctor with nothing reachable: %d %s; want a report that fails", resp.StatusCode, body)
	}
	for _, c := range rep.Checks {
		if c.ID == "port25.outbound" && (c.Result != diagnose.Fail || c.Egress != "main") {
			t.Errorf("port25.outbound: %+v; want a fail for egress main", c)
		}
	}
	bad := newEnv(t, func(s *Server) {
		s.Doctor = func(ctx context.Context, _ diagnose.RecentEvents) (*diagnose.DoctorReport, error) {
			return diagnose.Doctor(ctx, diagnose.DoctorConfig{DNS: []string{"127.0.0.1:1"}, Egresses: []diagnose.Egress{{SOCKS5: "nope:99999"}}})
		}
	})
	resp, body = bad.do("GET", "/v1/doctor", "", "")
	bad.problemOf(resp, body, 503)
	none := newEnv(t, nil)
	resp, body = none.do("GET", "/v1/doctor", "", "")
	none.problemOf(resp, body, 503)
}

// TestDoctorRecentFromEgressStore: GET /v1/doctor reports the block the
// egress store keeps for the egress, and only for it.
func TestDoctorRecentFromEgressStore(t *testing.T) {
	store := &egress.MemStore{}
	h := &egress.Health{Store: store}
	rep := egress.Reply{Stage: egress.StageRcpt, Code: 550, Enhanced: "5.7.606", Text: "Access denied, banned sending IP [192.0.2.7]"}
	if _, err := h.Observe(egress.Key{Egress: "main", Provider: "microsoft365"}, "x.mail.protection.outlook.com", rep); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(s *Server) {
		s.EgressStore = store
		s.Doctor = func(ctx context.Context, recent diagnose.RecentEvents) (*diagnose.DoctorReport, error) {
			return diagnose.Doctor(ctx, diagnose.DoctorConfig{DNS: []string{"127.0.0.1:1"}, Providers: []string{}, Controls: []string{},
				DNSBL: []string{}, AllowPrivate: true, Timeout: time.Second, Recent: recent,
				Egresses: []diagnose.Egress{{Name: "main", HELO: "probe.example.net", PublicIP: "192.0.2.7"},
					{Name: "other", HELO: "probe.example.net", PublicIP: "192.0.2.8"}}})
		}
	})
	resp, body := e.do("GET", "/v1/doctor", "", "")
	var got diagnose.DoctorReport
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	found := map[string]diagnose.Result{}
	for _, c := range got.Checks {
		if c.Section == diagnose.SecEvidence {
			found[c.Egress+" "+c.ID] = c.Result
			if c.Egress == "main" && (len(c.Evidence) != 1 || !strings.Contains(c.Evidence[0], "5.7.606")) {
				t.Errorf("main's evidence %q; want the banned reply", c.Evidence)
			}
		}
	}
	if found["main evidence.block"] != diagnose.Fail || found["other evidence.recent"] != diagnose.Pass || len(found) != 2 {
		t.Errorf("evidence checks %v; want main's block and other's clean record", found)
	}
}
