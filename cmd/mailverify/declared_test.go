package main

import (
	"strings"
	"testing"

	"github.com/mailverify/mailverify/egress"
)

// TestDeclaredEgresses: mailverify worker says what it declares: each
// egress with its pins (a proxy's password redacted), or that it has
// none and probes directly.
func TestDeclaredEgresses(t *testing.T) {
	if got := declared(nil); len(got) != 1 || !strings.Contains(got[0], "no egress") {
		t.Errorf("no egress: %q", got)
	}
	a, err := egress.Parse("192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	a.Providers = []string{"microsoft365", "outlook"}
	b, err := egress.Parse("socks5://user:secret@proxy.example:1080")
	if err != nil {
		t.Fatal(err)
	}
	got := declared([]egress.Egress{a, b})
	if len(got) != 2 || !strings.Contains(got[0], "192.0.2.10") || !strings.HasSuffix(got[0], "for microsoft365, outlook") ||
		!strings.Contains(got[1], "proxy.example:1080") || strings.Contains(got[1], "secret") || strings.Contains(got[1], " for ") {
		t.Errorf("declared = %q", got)
	}
}
