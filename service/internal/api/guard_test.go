package api

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// raw sends a request with a Host and headers of the test's choosing.
func (e *env) raw(method, path, host, ctype, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHostAndOriginMatrix: a name the service was not given is refused
// for reads and writes alike (DNS rebinding); a write from another site
// is refused whatever its content type (CSRF); /v1/verify takes JSON only.
func TestHostAndOriginMatrix(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Hosts = []string{"mv.internal"} })
	self := strings.TrimPrefix(e.srv.URL, "http://")
	for _, tc := range []struct {
		method, path, host, ctype, body string
		hdr                             []string
		status                          int
	}{
		{"GET", "/v1/jobs", self, "", "", nil, 200},
		{"GET", "/v1/jobs", "localhost:8025", "", "", nil, 200},
		{"GET", "/v1/jobs", "[::1]:8025", "", "", nil, 200},
		{"GET", "/v1/jobs", "mv.internal:8025", "", "", nil, 200},
		{"GET", "/v1/jobs", "MV.INTERNAL.", "", "", nil, 200},
		{"GET", "/v1/jobs", "rebound.attacker.example:8025", "", "", nil, 421},
		{"GET", "/", "rebound.attacker.example", "", "", nil, 421},
		{"GET", "/metrics", "rebound.attacker.example", "", "", nil, 421},
		{"POST", "/v1/jobs", "mv.internal.attacker.example", "text/plain", "jane@example.com\n", nil, 421},
		{"POST", "/v1/jobs", self, "text/plain", "jane@example.com\n", []string{"Origin", "http://attacker.example"}, 403},
		{"POST", "/v1/jobs", self, "text/plain", "jane@example.com\n", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"POST", "/v1/jobs", self, "text/plain", "jane@example.com\n", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"DELETE", "/v1/jobs/0123456789abcdef01234567", self, "", "", []string{"Origin", "http://attacker.example"}, 403},
		{"POST", "/v1/verify", self, "text/plain", `{"address":"jane@example.com"}`, []string{"Origin", "http://attacker.example"}, 403},
		{"POST", "/v1/verify", self, "text/plain", `{"address":"jane@example.com"}`, nil, 415},
		{"POST", "/v1/verify", self, "application/x-www-form-urlencoded", `address=jane@example.com`, nil, 415},
		{"POST", "/v1/verify", self, "application/json", `{"address":"jane@example.com"}`, []string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"POST", "/v1/verify", self, "application/json", `{"address":"jane@example.com"}`, []string{"Origin", "http://" + self}, 200},
		{"POST", "/v1/jobs", self, "text/plain", "jane@example.com\n", []string{"Origin", "http://" + self}, 202},
		{"POST", "/v1/jobs", self, "text/plain", "jane@example.com\n", []string{"Sec-Fetch-Site", "none"}, 202},
	} {
		before := e.jobCount()
		resp, body := e.raw(tc.method, tc.path, tc.host, tc.ctype, tc.body, tc.hdr...)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s Host %s %v: %d; want %d (%s)", tc.method, tc.path, tc.host, tc.hdr, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.status >= 400 {
			e.problemOf(resp, body, tc.status)
			if n := e.jobCount(); n != before {
				t.Errorf("%s %s %v: refused, yet %d jobs were stored", tc.method, tc.path, tc.hdr, n-before)
			}
		}
	}
}

// TestMethodNotAllowed: a path served with other methods answers 405
// with Allow; an unknown path 404.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/v1/verify", "POST"},
		{"DELETE", "/v1/verify", "POST"},
		{"PUT", "/v1/jobs", "GET, HEAD, POST"},
		{"POST", "/v1/jobs/0123456789abcdef01234567", "GET, HEAD, DELETE"},
		{"POST", "/healthz", "GET, HEAD"},
	} {
		resp, body := e.do(tc.method, tc.path, "application/json", "{}")
		e.problemOf(resp, body, 405)
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q; want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	resp, body := e.do("GET", "/v1/nothing", "", "")
	e.problemOf(resp, body, 404)
}

// TestBearerAnyCase: the auth scheme is case-insensitive (RFC 9110).
func TestBearerAnyCase(t *testing.T) {
	tokens, err := NewTokens([]string{"0123456789abcdef-alpha"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(s *Server) { s.Tokens = tokens })
	for _, auth := range []string{"Bearer 0123456789abcdef-alpha", "bearer 0123456789abcdef-alpha", "BEARER  0123456789abcdef-alpha"} {
		if resp, body := e.do("GET", "/v1/jobs", "", "", "Authorization", auth); resp.StatusCode != 200 {
			t.Errorf("%q: %d %s", auth, resp.StatusCode, body)
		}
	}
	for _, auth := range []string{"Basic 0123456789abcdef-alpha", "Bearer", "0123456789abcdef-alpha", "Bearer 0123456789abcdef-alphx"} {
		resp, body := e.do("GET", "/v1/jobs", "", "", "Authorization", auth)
		e.problemOf(resp, body, 401)
	}
}
