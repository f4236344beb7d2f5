package main

import (
	"strings"
	"testing"

	"github.com/mailverify/mailverify/verify"
)

func TestCleanOffline(t *testing.T) {
	var out strings.Builder
	in := "jane@mailinator.com\nnot an address\n\njane@gmial.com\njane@example.org\n"
	counts, err := clean(t.Context(), &verify.Verifier{Offline: true}, strings.NewReader(in), &out, true)
	if err != nil {
		t.Fatal(err)
	}
	// Offline, nothing is deliverable; typos are risky and kept with
	// -keep-risky, disposable addresses never.
	if out.String() != "jane@gmial.com\n" {
		t.Errorf("kept %q", out.String())
	}
	if counts["risky/disposable"] != 1 || counts["undeliverable/invalid_syntax"] != 1 || counts["unknown/smtp_not_checked"] != 1 || counts["risky/possible_typo"] != 1 {
		t.Errorf("counts %v", counts)
	}
}
