package api

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/mailverify/mailverify/service/internal/jobs"
)

// TestJobDedupe: POST /v1/jobs?dedupe=true verifies each address once
// (any case), the job counts the repeats left out, and each kept entry
// has its result; without dedupe every entry is verified and none is
// counted; a bad value is refused.
func TestJobDedupe(t *testing.T) {
	e := newEnv(t, nil)
	upload := "jane@example.com\nJANE@example.com\nnobody@example.com\njane@example.com\nbob@example.com\nnobody@EXAMPLE.com\n"
	for _, tc := range []struct {
		query             string
		total, duplicates int
		inputs            []string
	}{
		{"?dedupe=true", 3, 3, []string{"bob@example.com", "jane@example.com", "nobody@example.com"}},
		{"", 6, 0, []string{"JANE@example.com", "bob@example.com", "jane@example.com", "jane@example.com", "nobody@EXAMPLE.com", "nobody@example.com"}},
		{"?dedupe=false", 6, 0, nil},
	} {
		resp, body := e.do("POST", "/v1/jobs"+tc.query, "text/plain", upload)
		var j jobs.Job
		if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &j) != nil {
			t.Fatalf("POST /v1/jobs%s: %d %s", tc.query, resp.StatusCode, body)
		}
		if j.Total != tc.total || j.Duplicates != tc.duplicates || j.Dedupe != (tc.duplicates > 0) {
			t.Errorf("%s: total %d, duplicates %d, dedupe %v; want %d, %d", tc.query, j.Total, j.Duplicates, j.Dedupe, tc.total, tc.duplicates)
		}
		done := e.waitJob(j.ID, 30*time.Second)
		if done.Done != tc.total || done.Duplicates != tc.duplicates {
			t.Errorf("%s: finished with %d done, %d duplicates; want %d, %d", tc.query, done.Done, done.Duplicates, tc.total, tc.duplicates)
		}
		if tc.inputs == nil {
			continue
		}
		var got []string
		for _, r := range e.readAll(j.ID, 100) {
			got = append(got, r.Input)
		}
		sort.Strings(got)
		if len(got) != len(tc.inputs) {
			t.Fatalf("%s: results for %q; want %q", tc.query, got, tc.inputs)
		}
		for i := range got {
			if got[i] != tc.inputs[i] {
				t.Errorf("%s: results for %q; want %q", tc.query, got, tc.inputs)
				break
			}
		}
	}
	resp, body := e.do("POST", "/v1/jobs?dedupe=yes", "text/plain", upload)
	if d := e.problemOf(resp, body, 400); d != "dedupe must be true or false" {
		t.Errorf("dedupe=yes: %q", d)
	}
}

// TestPoliteness: GET /v1/politeness says the verifier's limits, the
// documented defaults where it sets none.
func TestPoliteness(t *testing.T) {
	for _, tc := range []struct {
		tweak func(*Server)
		want  pace
	}{
		{func(s *Server) { s.Verifier.PerHostRate, s.Verifier.PerHost, s.Verifier.Concurrency = 0, 0, 0 }, pace{10, 2, 16, 20, 1800}},
		{func(s *Server) {
			s.Verifier.PerHostRate, s.Verifier.PerHost, s.Verifier.Concurrency, s.Verifier.MaxRcpts = 2.5, 1, 64, 5
			s.GreylistBudget = time.Hour
		}, pace{2.5, 1, 64, 5, 3600}},
	} {
		e := newEnv(t, tc.tweak)
		resp, body := e.do("GET", "/v1/politeness", "", "")
		var got pace
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil || got != tc.want {
			t.Errorf("GET /v1/politeness: %d %s; want %+v", resp.StatusCode, body, tc.want)
		}
	}
}
