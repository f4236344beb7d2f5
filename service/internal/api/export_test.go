package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestExport: one request returns every result of a job, as NDJSON or CSV.
func TestExport(t *testing.T) {
	e := newEnv(t, nil)
	const n = 60
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "user%d@example.com\n", i)
	}
	resp, out := e.do("POST", "/v1/jobs", "text/plain", body.String())
	var j struct{ ID string }
	if resp.StatusCode != 202 || json.Unmarshal([]byte(out), &j) != nil {
		t.Fatalf("POST: %d %s", resp.StatusCode, out)
	}
	e.waitJob(j.ID, 60*time.Second)

	resp, out = e.do("GET", "/v1/jobs/"+j.ID+"/export", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
	seen := map[int]bool{}
	for l := range strings.Lines(out) {
		var r struct {
			Index *int   `json:"index"`
			Input string `json:"input"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Index == nil || seen[*r.Index] {
			t.Fatalf("line %q: %v (or no index, or a repeat)", l, err)
		}
		if r.Input != fmt.Sprintf("user%d@example.com", *r.Index) {
			t.Errorf("index %d is %q", *r.Index, r.Input)
		}
		seen[*r.Index] = true
	}
	if len(seen) != n {
		t.Errorf("%d results exported; want %d", len(seen), n)
	}

	resp, out = e.do("GET", "/v1/jobs/"+j.ID+"/export?format=csv", "", "")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if resp.StatusCode != 200 || err != nil || len(rows) != n+1 || rows[0][0] != "index" {
		t.Fatalf("CSV export: %d, %d rows, %v", resp.StatusCode, len(rows), err)
	}
	if _, out2 := e.do("GET", "/v1/jobs/"+j.ID+"/export", "", "", "Accept", "text/csv"); out2 != out {
		t.Error("Accept: text/csv and format=csv differ")
	}
	resp, out = e.do("GET", "/v1/jobs/"+j.ID+"/export?format=xml", "", "")
	e.problemOf(resp, out, 400)
	resp, out = e.do("GET", "/v1/jobs/0123456789abcdef01234567/export", "", "")
	e.problemOf(resp, out, 404)
}
