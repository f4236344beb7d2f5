package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit: --memory-limit takes sizes with units and 0; a bad one
// is refused; apply sets the runtime's soft limit, the default without the
// flag or GOMEMLIMIT, and none for 0.
func TestMemoryLimit(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "200000000": 200000000, "128MiB": 128 << 20, "2GiB": 2 << 30, "300MB": 300e6, " 64 MiB": 64 << 20, "16MiB": 16 << 20} {
		var m memoryLimit
		if err := m.Set(in); err != nil || m.bytes != want {
			t.Errorf("%q: %d, %v; want %d", in, m.bytes, err, want)
		}
	}
	for _, in := range []string{"", "-1", "12XB", "MiB", "1.5GiB", "99999999999GiB", "16777215", "15MiB"} {
		var m memoryLimit
		if err := m.Set(in); err == nil {
			t.Errorf("%q accepted: %d", in, m.bytes)
		}
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	var m memoryLimit
	m.apply()
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("default limit %d; want %d", got, defaultMemoryLimit)
	}
	_ = m.Set("300MiB")
	m.apply()
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("limit %d; want 300 MiB", got)
	}
	_ = m.Set("0")
	m.apply()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d with 0; want none", got)
	}
}
