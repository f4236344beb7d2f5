package diagnose

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mailverify/mailverify/internal/golden"
)

// TestReportSchema pins the JSON of a Report: what CI jobs parse.
func TestReportSchema(t *testing.T) {
	rep := &Report{Domain: "example.com", Checks: []Check{
		{ID: "dns.mx", Section: SecDNS, Result: Pass, Finding: "2 MX record(s)", Evidence: []string{"MX 10 mx1.example.com.", "MX 20 mx2.example.com."}},
		{ID: "tls.certificate", Section: SecTLS, Target: "mx1.example.com 192.0.2.25", Result: Warn, Finding: "the certificate expires in 9 days",
			Fix: "Renew it now; check the automation.", Evidence: []string{"expires 2026-12-10T00:00:00Z"}},
		{ID: "auth.spf", Section: SecAuth, Result: Fail, Finding: `the record ends in "+all": anyone may send as the domain`,
			Fix: `End it in "-all" or "~all".`},
		{ID: "auth.bimi", Section: SecAuth, Result: Info, Finding: "no BIMI record"},
	}}
	rep.summarize()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report.golden", buf.Bytes())
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Summary.Result != Fail || len(back.Summary.FixFirst) != 2 {
		t.Errorf("round trip: %+v %v", back.Summary, err)
	}
	if s := back.Summary.Sections; len(s) != 3 || s[1].Section != SecTLS || s[1].Score != 50 || s[2].Score != 50 {
		t.Errorf("section scores %+v", s)
	}
}
