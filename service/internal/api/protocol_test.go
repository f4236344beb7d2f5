package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProtocolTable: the answers of the protocol table.
func TestProtocolTable(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		h, err := s.Bus.NewHistory(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		s.History, s.Verifier.History = h, h
	})
	resp, body := e.do("POST", "/v1/jobs", "text/plain", "jane@example.com\nbob@example.com\n")
	var j struct{ ID string }
	if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &j) != nil {
		t.Fatalf("POST /v1/jobs: %d %s", resp.StatusCode, body)
	}
	e.waitJob(j.ID, 30*time.Second)
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
		kind                      string
	}{
		{"GET", "/v1/jobs/" + j.ID + "/results?after=18446744073709551615", "", "", 400, "bad-request"},
		{"GET", "/v1/jobs/" + j.ID + "/results?afterr=1", "", "", 400, "bad-request"},
		{"GET", "/v1/jobs?verbose=1", "", "", 400, "bad-request"},
		{"POST", "/v1/jobs?webhook=https://x.example/", "text/plain", "jane@example.com\n", 400, "bad-request"},
		{"POST", "/v1/verify", "application/json", `{"address": "` + strings.Repeat("a", 70000) + `"}`, 413, "too-large"},
		{"POST", "/v1/feedback", "application/x-ndjson", "", 422, "bad-input"},
		{"POST", "/v1/feedback", "text/plain", "hello, this is not a bounce\n", 422, "bad-input"},
		{"POST", "/v1/feedback", "application/x-ndjson", `{"address":"x@example.com","event":"bounce","type":"hard","status":"5.1.1","at":"` + future + `"}` + "\n", 422, "bad-input"},
	} {
		resp, body := e.do(tc.method, tc.path, tc.ctype, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(body, problemBase+tc.kind) {
			t.Errorf("%s %.70s: %d %.200s; want %d %s", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.kind)
			continue
		}
		e.problemOf(resp, body, tc.status)
		if strings.Contains(strings.ToLower(body), "nats") {
			t.Errorf("%s %s: NATS in the problem: %s", tc.method, tc.path, body)
		}
	}

	// DELETE erases the results; the record stays, marked.
	if _, body := e.do("GET", "/v1/jobs/"+j.ID+"/results", "", ""); strings.Count(body, "\n") != 2 {
		t.Fatalf("results before DELETE: %q", body)
	}
	resp, body = e.do("DELETE", "/v1/jobs/"+j.ID, "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"erased":true`) || !strings.Contains(body, `"state":"done"`) {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	if _, body := e.do("GET", "/v1/jobs/"+j.ID+"/results", "", ""); strings.TrimSpace(body) != "" {
		t.Errorf("results after DELETE: %q; want none", body)
	}

	// The store gone: 503 with Retry-After, and nothing of NATS said.
	e.bus.NC.Close()
	resp, body = e.do("GET", "/v1/jobs/"+j.ID, "", "")
	e.problemOf(resp, body, 503)
	if resp.Header.Get("Retry-After") == "" || strings.Contains(strings.ToLower(body), "nats") {
		t.Errorf("store down: Retry-After %q, body %s", resp.Header.Get("Retry-After"), body)
	}
}

// TestMetricsNeedTokenOffLoopback: with tokens, /metrics is open to this
// machine only; from elsewhere it takes a token.
func TestMetricsNeedTokenOffLoopback(t *testing.T) {
	tokens, err := NewTokens([]string{"0123456789abcdef-alpha"})
	if err != nil {
		t.Fatal(err)
	}
	h := (&Server{Tokens: tokens}).Handler()
	for _, tc := range []struct {
		remote, auth string
		status       int
	}{
		{"127.0.0.1:4000", "", 200},
		{"[::1]:4000", "", 200},
		{"203.0.113.7:4000", "", 401},
		{"203.0.113.7:4000", "Bearer 0123456789abcdef-alpha", 200},
	} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:8025/metrics", nil)
		r.RemoteAddr = tc.remote
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("/metrics from %s (auth %q): %d; want %d", tc.remote, tc.auth, w.Code, tc.status)
		}
	}
}

// TestRequestRateOff: a negative rate (--request-rate 0) limits nothing.
func TestRequestRateOff(t *testing.T) {
	h := (&Server{Rate: -1}).Handler()
	for i := range 200 {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8025/v1/feedback", strings.NewReader(""))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusTooManyRequests {
			t.Fatalf("request %d limited with the rate off", i)
		}
	}
}
