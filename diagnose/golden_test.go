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

// TestDoctorReportSchema pins the JSON of a DoctorReport.
func TestDoctorReportSchema(t *testing.T) {
	rep := &DoctorReport{Schema: 1, Egresses: []EgressInfo{{Name: "direct", HELO: "out.example.net", MailFrom: "probe@example.net",
		Address: "192.0.2.7", Source: "stated by a server"}}, Checks: []Check{
		{ID: "port25.server", Section: SecPort25, Egress: "direct", Target: "mx.example.com 192.0.2.25:25", Result: Pass,
			Finding: "220 greeting after 41 ms", Evidence: []string{"220 mx.example.com ESMTP", "250 mx.example.com Hello [192.0.2.7]"}},
		{ID: "port25.outbound", Section: SecPort25, Egress: "direct", Result: Pass, Finding: "all 1 mail servers answered on port 25"},
		{ID: "identity.ptr", Section: SecIdentity, Egress: "direct", Target: "192.0.2.7", Result: Fail, Finding: "no PTR record for the egress address",
			Why: "Receivers refuse sessions from addresses without reverse DNS.", Fix: "Set a PTR."},
		{ID: "blocklist.bl.example", Section: SecReputation, Egress: "direct", Target: "192.0.2.7", Result: Info,
			Finding: "could not check: the zone does not list its test entry 127.0.0.2"},
		{ID: "evidence.recent", Section: SecEvidence, Egress: "direct", Result: Info, Finding: "no record of recent runs"},
	}}
	rep.Summary = summarize(rep.Checks, doctorSections)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/doctor.golden", buf.Bytes())
	var back DoctorReport
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Summary.Result != Fail || len(back.Summary.FixFirst) != 1 ||
		back.Summary.FixFirst[0] != "identity.ptr (direct 192.0.2.7): no PTR record for the egress address" || len(back.Summary.Sections) != 4 {
		t.Errorf("round trip: %+v %v", back.Summary, err)
	}
}
