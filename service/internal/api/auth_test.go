package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/verify"
)

func TestAuthAndRateLimit(t *testing.T) {
	tokens, err := ReadTokens(strings.NewReader("# tokens\nalpha-token-0123456789\n\nbeta-token-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(s *Server) { s.Tokens, s.Rate, s.Burst = tokens, 0.1, 1 }) // one in 10 s: a slow upload cannot refill it
	resp, body := e.do("POST", "/v1/verify", "application/json", `{"address":"jane@example.com"}`)
	e.problemOf(resp, body, 401)
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	resp, body = e.do("GET", "/v1/jobs", "", "", "Authorization", "Bearer wrong-token-0123456789")
	e.problemOf(resp, body, 401)
	alpha := []string{"Authorization", "Bearer alpha-token-0123456789"}
	beta := []string{"Authorization", "Bearer beta-token-0123456789"}
	resp, body = e.do("POST", "/v1/jobs", "text/plain", "jane@example.com\n", alpha...)
	if resp.StatusCode != 202 {
		t.Fatalf("with a token: %d %s", resp.StatusCode, body)
	}
	var j struct{ ID string }
	_ = json.Unmarshal([]byte(body), &j)
	resp, body = e.do("POST", "/v1/jobs", "text/plain", "jane@example.com\n", alpha...)
	e.problemOf(resp, body, 429)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Reads are not limited; another token has its own limit and does not
	// see alpha's job.
	resp, _ = e.do("GET", "/v1/jobs/"+j.ID, "", "", alpha...)
	if resp.StatusCode != 200 {
		t.Errorf("alpha reads its job: %d", resp.StatusCode)
	}
	resp, body = e.do("GET", "/v1/jobs/"+j.ID, "", "", beta...)
	e.problemOf(resp, body, 404)
	resp, body = e.do("DELETE", "/v1/jobs/"+j.ID, "", "", beta...)
	e.problemOf(resp, body, 404)
	resp, _ = e.do("POST", "/v1/verify", "application/json", `{"address":"jane@example.com"}`, beta...)
	if resp.StatusCode != 200 {
		t.Errorf("beta's first request: %d", resp.StatusCode)
	}
	// Health, readiness and the document need no token.
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json", "/metrics"} {
		if resp, body := e.do("GET", p, "", ""); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if _, err := ReadTokens(strings.NewReader("short\n")); err == nil {
		t.Error("a short token accepted")
	}
	if _, err := ReadTokens(strings.NewReader("# none\n")); err == nil {
		t.Error("a token file without tokens accepted")
	}
}

func TestFeedbackEndpoint(t *testing.T) {
	var hist *jobs.KVHistory
	e := newEnv(t, func(s *Server) {
		h, err := s.Bus.NewHistory(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		hist, s.History, s.Verifier.History = h, h, h
	})
	now := time.Now().UTC().Format(time.RFC3339)
	bad := `{"address":"x@catchall.com","event":"bounce","type":"hard","at":"` + now + `"}` + "\n" + `{"address":"y@catchall.com","event":"bounce","at":"` + now + `"}` + "\n"
	resp, body := e.do("POST", "/v1/feedback", "application/x-ndjson", bad)
	e.problemOf(resp, body, 400)
	if _, ok, _ := hist.Lookup("x@catchall.com"); ok {
		t.Error("a malformed upload recorded its first line")
	}
	good := `{"address":"x@catchall.com","event":"bounce","type":"hard","status":"5.1.1","at":"` + now + `"}` + "\n"
	resp, body = e.do("POST", "/v1/feedback", "application/x-ndjson", good)
	if resp.StatusCode != 200 || !strings.Contains(body, `"events":1`) {
		t.Fatalf("POST /v1/feedback: %d %s", resp.StatusCode, body)
	}
	_, body = e.do("POST", "/v1/verify", "application/json", `{"address":"x@catchall.com"}`)
	var r verify.Result
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != verify.Undeliverable || r.Reason != verify.ReasonMailboxNotFound || r.Feedback == nil {
		t.Errorf("after the bounce: %s; want undeliverable/mailbox_not_found with the bounce", body)
	}
	_, body = e.do("POST", "/v1/verify", "application/json", `{"address":"y@catchall.com"}`)
	if !strings.Contains(body, `"reason":"catch_all"`) {
		t.Errorf("another address of the catch-all domain: %s", body)
	}
	none := newEnv(t, nil)
	resp, body = none.do("POST", "/v1/feedback", "application/x-ndjson", good)
	none.problemOf(resp, body, 503)
}

func TestDiagnoseEndpoint(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		s.Diagnose = func(ctx context.Context, domain string) (*diagnose.Report, error) {
			return diagnose.Run(ctx, domain, diagnose.Config{DNS: []string{"127.0.0.1:1"}, DNSBL: []string{}, MaxHosts: 1})
		}
	})
	resp, body := e.do("GET", "/v1/diagnose/not..valid", "", "")
	e.problemOf(resp, body, 400)
	resp, body = e.do("GET", "/v1/diagnose/example.com", "", "")
	var rep diagnose.Report
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Domain != "example.com" || rep.Summary.Result != diagnose.Fail {
		t.Errorf("diagnose with no DNS reachable: %d %s; want a report that fails", resp.StatusCode, body)
	}
	none := newEnv(t, nil)
	resp, body = none.do("GET", "/v1/diagnose/example.com", "", "")
	none.problemOf(resp, body, 503)
}
