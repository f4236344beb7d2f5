package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode"
)

const ucdDir = "/usr/share/unicode"

// TestTablesUpToDate rebuilds syntax/tables.go from the UCD and compares it
// with the committed file. It needs Debian's unicode-data package at the
// Unicode version of Go's unicode package; CI installs it and sets
// MAILVERIFY_REQUIRE_UCD=1 so that the test cannot silently skip there.
func TestTablesUpToDate(t *testing.T) {
	if _, err := os.Stat(filepath.Join(ucdDir, "UnicodeData.txt")); err != nil {
		if os.Getenv("MAILVERIFY_REQUIRE_UCD") != "" {
			t.Fatalf("MAILVERIFY_REQUIRE_UCD is set but the UCD is missing: %v (apt-get install unicode-data)", err)
		}
		t.Skipf("no UCD in %s (apt-get install unicode-data); skipping the regeneration check", ucdDir)
	}
	v, err := version(filepath.Join(ucdDir, "DerivedCoreProperties.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if v != unicode.Version {
		t.Skipf("UCD in %s is %s, Go's unicode package is %s; tables must be built from matching data", ucdDir, v, unicode.Version)
	}
	got, err := Generate(ucdDir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../tables.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("syntax/tables.go differs from a fresh build: run go generate ./syntax")
	}
}
