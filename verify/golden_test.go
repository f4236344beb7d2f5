package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/internal/golden"
	"github.com/mailverify/mailverify/risk"
)

// TestResultJSONSchema pins the JSON form of Result: field names, value
// encodings and what is omitted. Changing it breaks wrappers; regenerate
// with -update (package internal/golden) only on purpose.
func TestResultJSONSchema(t *testing.T) {
	results := goldenResults()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	// The JSON decodes back to the same Results (less Err, which is not
	// in it), so Go programs can read the CLI's output.
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	for i, want := range results {
		var got Result
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decoding result %d: %v", i, err)
		}
		want.Err = nil
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Errorf("result %d does not survive a round trip:\n%s\n%s", i, a, b)
		}
	}
	golden.Check(t, "testdata/result.golden", buf.Bytes())
}

// goldenResults are the results of testdata/result.golden.
func goldenResults() []Result {
	return []Result{
		{
			Input: "Jane.Doe+news@Example.COM", Status: Deliverable, Reason: ReasonAccepted,
			Address: "Jane.Doe+news@example.com", Local: "Jane.Doe+news", Domain: "example.com", DomainASCII: "example.com",
			FreeProvider: false, RoleAccount: false, CatchAll: catchall.No, Subaddress: true, Provider: "google",
			MXHosts:  []string{"aspmx.l.google.com", "alt1.aspmx.l.google.com"},
			SMTP:     &SMTPReply{Code: 250, EnhancedCode: "2.1.5", Message: "OK", Host: "aspmx.l.google.com"},
			Duration: Millis(1234 * time.Millisecond),
		},
		{
			Input: "jane@grey.example", Status: Unknown, Reason: ReasonGreylisted, Address: "jane@grey.example",
			Local: "jane", Domain: "grey.example", DomainASCII: "grey.example", CatchAll: catchall.Unknown,
			RetryAfter: Seconds(90 * time.Second), Duration: Millis(20 * time.Millisecond),
			SMTP:       &SMTPReply{Code: 450, EnhancedCode: "4.2.0", Message: "Greylisted", Host: "mx.grey.example"},
			Transcript: []string{"S: 220 mx ESMTP", "C: EHLO verifier.example.net"},
			Err:        errors.New("not in JSON"),
		},
		{
			Input: "用户@例子.广告", Status: Risky, Reason: ReasonPossibleTypo, Address: "用户@例子.广告", Local: "用户",
			Domain: "例子.广告", DomainASCII: "xn--fsqu00a.xn--4rr70v", SMTPUTF8: true, Disposable: true,
			Suggestion: "example.com",
		},
		{Input: "not an address", Status: Undeliverable, Reason: ReasonInvalidSyntax,
			Error: `syntax: parse "not an address": character not allowed (space) at offset 3`},
		{
			Input: "abuse@parked.example", Status: Risky, Reason: ReasonParkedDomain, Address: "abuse@parked.example",
			Local: "abuse", Domain: "parked.example", DomainASCII: "parked.example", RoleAccount: true, CatchAll: catchall.Yes,
			Risk: &risk.Risk{
				Parked:        &risk.Evidence{Service: "sedo", Seen: []string{"NS ns1.sedoparking.com", "A 91.195.240.94"}, Source: "tma2022"},
				TrapLocalPart: &risk.Evidence{Seen: []string{"local part abuse"}, Source: "RFC 2142"},
			},
		},
		{
			Input: "jane@tenant.example", Status: Unknown, Reason: ReasonCannotVerify, Address: "jane@tenant.example",
			Local: "jane", Domain: "tenant.example", DomainASCII: "tenant.example", CatchAll: catchall.Yes, Provider: "microsoft365",
			Risk: &risk.Risk{AcceptsAllByPolicy: &risk.Evidence{Service: "microsoft365",
				Seen: []string{"MX tenant-example.mail.protection.outlook.com", "the random address was accepted"}}},
		},
	}
}
