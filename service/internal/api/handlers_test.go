package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/service/internal/web"
	"github.com/mailverify/mailverify/verify"
)

func TestVerifyEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("POST", "/v1/verify", "application/json", `{"address": " jane@example.com "}`)
	var r verify.Result
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &r) != nil || r.Status != verify.Deliverable || r.Input != " jane@example.com " {
		t.Fatalf("verify jane@example.com: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`not json`, 400},
		{`{"address": "a@b.com", "extra": 1}`, 400},
		{`{"address": "a@b.com"} {"address": "c@d.com"}`, 400},
		{`{}`, 422},
		{`{"address": "a@b.com", "timeout_ms": 600000}`, 422},
		{`{"address": "a@b.com", "timeout_ms": -1}`, 422},
		{`{"address": "` + strings.Repeat("a", 2000) + `"}`, 422},
		{`{"address": "` + strings.Repeat("a", 70000) + `"}`, 413},
	} {
		resp, body := e.do("POST", "/v1/verify", "application/json", tc.body)
		if d := e.problemOf(resp, body, tc.status); d == "" {
			t.Errorf("%.40s: a problem without detail", tc.body)
		}
	}
}

func TestVerifyPastBudgetFinishesInBackground(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("POST", "/v1/verify", "application/json", `{"address": "jane@slow.com", "timeout_ms": 100}`)
	var r verify.Result
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if r.Status != verify.Unknown || r.Reason != verify.ReasonTimeout || r.RetryAfter == 0 {
		t.Fatalf("past the budget: %s/%s retry_after %v; want unknown/timeout with retry_after", r.Status, r.Reason, r.RetryAfter)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		start := time.Now()
		_, body := e.do("POST", "/v1/verify", "application/json", `{"address": "jane@slow.com", "timeout_ms": 100}`)
		took := time.Since(start)
		_ = json.Unmarshal([]byte(body), &r)
		if r.Reason != verify.ReasonTimeout {
			if took > time.Second {
				t.Errorf("the repeat took %v; want it from the cache", took)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the background check never finished")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type jobResult struct {
	Index int `json:"index"`
	verify.Result
}

// readAll reads every page of a job's results.
func (e *env) readAll(id string, limit int) []jobResult {
	e.t.Helper()
	var out []jobResult
	cursor := "0"
	for range 1000 {
		resp, body := e.do("GET", fmt.Sprintf("/v1/jobs/%s/results?after=%s&limit=%d", id, cursor, limit), "", "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
			e.t.Fatalf("results: %d %s", resp.StatusCode, body)
		}
		for line := range strings.Lines(body) {
			var r jobResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				e.t.Fatalf("result line %q: %v", line, err)
			}
			out = append(out, r)
		}
		next := resp.Header.Get("Mailverify-Cursor")
		if body == "" || next == cursor {
			return out
		}
		cursor = next
	}
	e.t.Fatal("results never ended")
	return nil
}

func TestJobLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	upload := "jane@example.com\r\n\n bob@example.com\nnobody@example.com\njane@other.com\nx@catchall.com\nnot-an-address\n"
	resp, body := e.do("POST", "/v1/jobs", "text/plain; charset=utf-8", upload)
	var j struct{ ID, State string }
	if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &j) != nil || resp.Header.Get("Location") != "/v1/jobs/"+j.ID {
		t.Fatalf("POST /v1/jobs: %d %s (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	job := e.waitJob(j.ID, 30*time.Second)
	if job.State != "done" || job.Total != 6 || job.Done != 6 || job.Finished == nil {
		t.Fatalf("job %+v; want done, 6 of 6", job)
	}
	want := map[string]verify.Status{"jane@example.com": verify.Deliverable, " bob@example.com": verify.Deliverable,
		"nobody@example.com": verify.Undeliverable, "jane@other.com": verify.Deliverable, "x@catchall.com": verify.Risky,
		"not-an-address": verify.Undeliverable}
	res := e.readAll(j.ID, 2)
	if len(res) != 6 {
		t.Fatalf("%d results; want 6", len(res))
	}
	seenIdx := map[int]bool{}
	counts := map[string]int{}
	for _, r := range res {
		if seenIdx[r.Index] {
			t.Errorf("index %d twice", r.Index)
		}
		seenIdx[r.Index] = true
		if st, ok := want[r.Input]; !ok || st != r.Status {
			t.Errorf("%q: %s/%s; want %s", r.Input, r.Status, r.Reason, st)
		}
		counts[r.Status.String()]++
	}
	for st, n := range counts {
		if job.Counts[st] != n {
			t.Errorf("job counts %v; results %v", job.Counts, counts)
		}
	}
	// The same as CSV, with the index first.
	resp, body = e.do("GET", "/v1/jobs/"+j.ID+"/results", "", "", "Accept", "text/csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if resp.StatusCode != 200 || err != nil || len(rows) != 7 || rows[0][0] != "index" || rows[0][1] != "input" {
		t.Fatalf("CSV results: %d %v %q", resp.StatusCode, err, rows)
	}
	// Listed; canceling a finished job leaves it done.
	_, body = e.do("GET", "/v1/jobs", "", "")
	if !strings.Contains(body, j.ID) {
		t.Errorf("GET /v1/jobs does not list %s: %s", j.ID, body)
	}
	resp, body = e.do("DELETE", "/v1/jobs/"+j.ID, "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"state":"done"`) {
		t.Errorf("DELETE a done job: %d %s", resp.StatusCode, body)
	}
}

func TestJobFormats(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ path, ctype, body string }{
		{"/v1/jobs?column=Mail", "text/csv", "name,Mail\nJane,jane@example.com\nBob, bob@example.com\n"},
		{"/v1/jobs", "text/csv", "name,email\nJane,jane@example.com\nBob,bob@example.com\n"},
		{"/v1/jobs", "application/x-ndjson", "{\"address\":\"jane@example.com\",\"ref\":\"row-1\"}\n{\"address\":\"bob@example.com\",\"ref\":\"row-2\"}\n"},
	} {
		resp, body := e.do("POST", tc.path, tc.ctype, tc.body)
		var j struct{ ID string }
		if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &j) != nil {
			t.Fatalf("%s %s: %d %s", tc.ctype, tc.path, resp.StatusCode, body)
		}
		job := e.waitJob(j.ID, 30*time.Second)
		if job.Total != 2 || job.Counts["deliverable"] != 2 {
			t.Errorf("%s %s: job %+v; want 2 deliverable", tc.ctype, tc.path, job)
		}
		if strings.Contains(tc.body, "ref") {
			_, body := e.do("GET", "/v1/jobs/"+j.ID+"/results", "", "")
			for _, want := range []string{`"ref":"row-1"`, `"ref":"row-2"`} {
				if !strings.Contains(body, want) {
					t.Errorf("results lack %s: %s", want, body)
				}
			}
		}
	}
}

func TestJobBadInputStoresNothing(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.MaxBody = 1 << 20 })
	for _, tc := range []struct {
		name, path, ctype, body string
		status                  int
	}{
		{"unterminated quote", "/v1/jobs", "text/csv", "email\njane@example.com\n\"bob@example.com\n", 400},
		{"no such column", "/v1/jobs?column=phone", "text/csv", "email\njane@example.com\n", 400},
		{"empty CSV", "/v1/jobs", "text/csv", "", 400},
		{"NDJSON not an object", "/v1/jobs", "application/x-ndjson", "{\"address\":\"jane@example.com\"}\n[1,2]\n", 400},
		{"NDJSON without address", "/v1/jobs", "application/x-ndjson", "{\"email\":\"jane@example.com\"}\n", 400},
		{"no addresses", "/v1/jobs", "text/plain", "\n  \n", 422},
		{"a huge entry", "/v1/jobs", "text/plain", "jane@example.com\n" + strings.Repeat("x", 5000) + "\n", 422},
		{"bad webhook", "/v1/jobs?webhook_url=ftp://example.com/", "text/plain", "jane@example.com\n", 422},
		{"unsupported type", "/v1/jobs", "application/pdf", "jane@example.com\n", 415},
		{"no type", "/v1/jobs", "", "jane@example.com\n", 415},
	} {
		resp, body := e.do("POST", tc.path, tc.ctype, tc.body)
		if d := e.problemOf(resp, body, tc.status); d == "" {
			t.Errorf("%s: no detail", tc.name)
		}
	}
	// A 1 GB body against a 1 MiB limit: refused at the limit.
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/jobs", io.LimitReader(repeat("jane@example.com\n"), 1<<30))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e.problemOf(resp, string(b), http.StatusRequestEntityTooLarge)
	} // else the server closed the connection while the client was still sending: refused too
	time.Sleep(200 * time.Millisecond)
	if n := e.jobCount(); n != 0 {
		t.Errorf("%d jobs stored after bad uploads; want none", n)
	}
	s, err := e.bus.JS.Stream(context.Background(), "MV_INPUT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d input chunks left after bad uploads; want none", info.State.Msgs)
	}
	resp2, body := e.do("GET", "/v1/jobs/0123456789abcdef01234567", "", "")
	e.problemOf(resp2, body, 404)
	resp2, body = e.do("GET", "/v1/jobs/../../etc", "", "")
	if resp2.StatusCode != 404 {
		t.Errorf("a path outside the API: %d %s", resp2.StatusCode, body)
	}
	resp2, body = e.do("GET", "/v1/jobs/nothex/results?after=x", "", "")
	e.problemOf(resp2, body, 400)
}

type repeater struct {
	s string
	i int
}

func repeat(s string) io.Reader { return &repeater{s: s} }

func (r *repeater) Read(p []byte) (int, error) {
	for n := range p {
		p[n] = r.s[r.i%len(r.s)]
		r.i++
	}
	return len(p), nil
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, nil)
	var ids []string
	for range 3 {
		resp, body := e.do("POST", "/v1/jobs", "text/plain", "jane@example.com\n", "Idempotency-Key", "upload-42")
		var j struct{ ID string }
		if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &j) != nil {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		ids = append(ids, j.ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("the same Idempotency-Key made jobs %v; want one", ids)
	}
	if n := e.jobCount(); n != 1 {
		t.Errorf("%d jobs stored; want 1", n)
	}
	resp, _ := e.do("POST", "/v1/jobs", "text/plain", "jane@example.com\n", "Idempotency-Key", "other")
	if resp.StatusCode != 202 || e.jobCount() != 2 {
		t.Errorf("another key: %d, %d jobs; want a second job", resp.StatusCode, e.jobCount())
	}
	// The same key with another body is not a retry (issue #25 item 2).
	resp, body := e.do("POST", "/v1/jobs", "text/plain", "john@example.com\n", "Idempotency-Key", "upload-42")
	if resp.StatusCode != 422 || !strings.Contains(body, "key-reused") || e.jobCount() != 2 {
		t.Errorf("the key again with another body: %d %s, %d jobs; want 422 key-reused, no new job", resp.StatusCode, body, e.jobCount())
	}
}

func TestMetricsNameNoAddress(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("POST", "/v1/jobs", "text/plain", "jane@example.com\nnobody@example.com\n")
	var j struct{ ID string }
	if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &j) != nil {
		t.Fatal(body)
	}
	e.waitJob(j.ID, 30*time.Second)
	e.do("POST", "/v1/verify", "application/json", `{"address":"bob@example.com"}`)
	_, m := e.do("GET", "/metrics", "", "")
	for _, want := range []string{`mailverify_addresses_total{reason="accepted",status="deliverable"}`, `mailverify_jobs_total{event="created"} 1`,
		`mailverify_queue_depth{kind="pending",partition="0"}`, `mailverify_http_requests_total{code="202",route="POST /v1/jobs"} 1`,
		"mailverify_http_request_duration_seconds_bucket", `mailverify_smtp_commands_total{verb="RCPT"}`,
		`mailverify_smtp_commands_total{verb="EHLO"}`, `mailverify_smtp_server_replies_total{class="2xx"}`,
		`mailverify_smtp_server_replies_total{class="5xx"}`, `mailverify_smtp_connections_total{outcome="ok"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"jane", "nobody", "bob", "example.com"} {
		if strings.Contains(m, leak) {
			t.Errorf("metrics name %q: no address or domain may be a label", leak)
		}
	}
}

func TestPageFiles(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/assets/app.js", "text/javascript; charset=utf-8", 200},
		{"/assets/app.css", "text/css; charset=utf-8", 200},
		{"/assets/nothing.js", "", 404},
	} {
		resp, body := e.do("GET", tc.path, "", "")
		if resp.StatusCode != tc.status || tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: %d %q; want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
		if tc.status == 200 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: no Content-Security-Policy", tc.path)
		}
		if tc.path == "/" && (!strings.Contains(body, `<script src="/assets/app.js"`) || strings.Contains(body, "http://") || strings.Contains(body, "https://")) {
			t.Errorf("the page loads something from elsewhere or not its script")
		}
	}
}
