package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is serve's and worker's soft memory limit when
// neither --memory-limit nor GOMEMLIMIT sets one. The Go runtime lets the
// heap grow to twice what is live before it collects; the embedded NATS
// server's block buffers (4 MB, kept 10 s after their last use) come and
// go fast, so the resident set sat near twice the live heap: 348 MB at a
// million-address job against 158 MB live. The resident set then follows
// the limit (about 15 MB above it: the binary and what the runtime keeps
// outside the heap), so the limit sets the peak as long as the live heap
// stays under it. At a million addresses (BenchmarkScale,
// service/internal/jobs) the largest live heap was 98-108 MiB under this
// limit (part of it is the server's block caches, which a collection
// frees), and the process peaked at 130-139 MiB, where 128 MiB peaked at
// 145-148 MiB, at the same speed. It is
// soft: a process that needs more gets it, and the runtime then spends at
// most half the CPU on collecting (raise it when many large jobs run at
// once).
const defaultMemoryLimit = 112 << 20

// memoryLimit is the --memory-limit flag: a size such as 128MiB, 1GiB or
// 200000000 (bytes), at least minMemoryLimit; 0 is no limit.
type memoryLimit struct {
	bytes int64
	set   bool
}

func (m *memoryLimit) String() string {
	if m == nil || !m.set {
		return fmt.Sprintf("%dMiB", defaultMemoryLimit>>20)
	}
	return strconv.FormatInt(m.bytes, 10)
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

func (m *memoryLimit) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return errors.New("a size in bytes, KiB, MiB or GiB (0: no limit)")
	}
	if n > 0 && n*mult < minMemoryLimit {
		hint := ""
		if mult == 1 {
			hint = fmt.Sprintf("; a size without a unit is bytes: did you mean %dMiB?", n)
		}
		return fmt.Errorf("%d bytes is too small for the service (at least %dMiB, or 0 for no limit%s)", n*mult, minMemoryLimit>>20, hint)
	}
	m.bytes, m.set = n*mult, true
	return nil
}

// minMemoryLimit is the smallest --memory-limit taken other than 0: the
// service's heap is above it at rest, so a smaller one (most likely a
// size whose unit was left out) would keep the collector running all the
// time without bounding anything.
const minMemoryLimit = 16 << 20

// apply sets the process's soft memory limit: the flag's, else
// GOMEMLIMIT's (which the runtime has read), else defaultMemoryLimit.
func (m *memoryLimit) apply() {
	switch {
	case m.set && m.bytes == 0:
		debug.SetMemoryLimit(math.MaxInt64)
	case m.set:
		debug.SetMemoryLimit(m.bytes)
	case os.Getenv("GOMEMLIMIT") == "":
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
