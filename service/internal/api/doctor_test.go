package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mailverify/mailverify/diagnose"
)

func TestDoctorEndpoint(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		s.Doctor = func(ctx context.Context) (*diagnose.DoctorReport, error) {
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
		s.Doctor = func(ctx context.Context) (*diagnose.DoctorReport, error) {
			return diagnose.Doctor(ctx, diagnose.DoctorConfig{DNS: []string{"127.0.0.1:1"}, Egresses: []diagnose.Egress{{SOCKS5: "nope:99999"}}})
		}
	})
	resp, body = bad.do("GET", "/v1/doctor", "", "")
	bad.problemOf(resp, body, 503)
	none := newEnv(t, nil)
	resp, body = none.do("GET", "/v1/doctor", "", "")
	none.problemOf(resp, body, 503)
}
