package egress

import (
	"errors"
	"strings"
	"testing"
)

// TestEmbeddedProfiles checks the embedded table: it parses, covers the
// providers issue 29 names, and its numbers are consistent.
func TestEmbeddedProfiles(t *testing.T) {
	p := DefaultProfiles()
	want := []string{"default", "google", "microsoft365", "outlook", "yahoo", "icloud", "proofpoint", "mimecast", "zoho"}
	for _, w := range want {
		if p.For(w).Provider != w {
			t.Errorf("no profile for %s", w)
		}
	}
	for _, pr := range p.All() {
		if pr.PerMinute <= 0 || pr.PerHour < pr.PerMinute || pr.PerDay < pr.PerHour || pr.Sessions <= 0 {
			t.Errorf("profile %s is not conservative and consistent: %+v", pr.Provider, pr.Limits)
		}
	}
	if got := p.For("nosuch").Provider; got != "default" {
		t.Errorf("unknown provider → %q, want default", got)
	}
	if got := p.For(ProviderKey("", "192.0.2.1")).Provider; got != "default" {
		t.Errorf("a server key → %q, want default", got)
	}
	if got := p.For("Google").Provider; got != "google" {
		t.Errorf("case: %q", got)
	}
}

func TestParseProfilesErrors(t *testing.T) {
	for _, tc := range []struct{ name, json string }{
		{"not JSON", `{`},
		{"no default", `{"profiles":[{"provider":"google"}]}`},
		{"twice", `{"profiles":[{"provider":"default"},{"provider":"Default"}]}`},
		{"negative", `{"profiles":[{"provider":"default","per_day":-1}]}`},
		{"no source", `{"profiles":[{"provider":"default","per_day":10}]}`},
		{"misspelt field", `{"profiles":[{"provider":"default","per_mnute":10}]}`},
		{"no provider", `{"profiles":[{"provider":"default"},{"per_day":0}]}`},
	} {
		if _, err := ParseProfiles(strings.NewReader(tc.json)); !errors.Is(err, ErrProfiles) {
			t.Errorf("%s: %v, want ErrProfiles", tc.name, err)
		}
	}
}
