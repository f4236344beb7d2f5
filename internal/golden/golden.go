// Package golden compares what a test produced with a file under
// testdata, and rewrites the file instead when the test runs with
// -update. It is for tests only.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// Check fails t when got differs from the file at path. With -update it
// writes got to path first, so the comparison then holds; run it so only
// on purpose, and review the diff.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; if the change is on purpose, rerun the test with -update\ngot:\n%s", path, got)
	}
}
