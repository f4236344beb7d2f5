package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestReviewMemoryLimitFlag (review of #25 item 8): a bad --memory-limit
// is a usage error (exit 2) that names the flag, for serve and worker,
// before anything starts; and a size without a unit small enough to be a
// forgotten one ("512", meant as MiB: 512 bytes) is refused rather than
// taken as a limit that keeps the collector running all the time.
func TestReviewMemoryLimitFlag(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	for _, cmd := range []string{"serve", "worker"} {
		for _, bad := range []string{"lots", "-5MiB", "1.5GiB", "128 MiBs"} {
			code, _, errs := runCLI(t, t.Context(), "", cmd, "--memory-limit", bad)
			if code != 2 || !strings.Contains(errs, "memory-limit") {
				t.Errorf("%s --memory-limit %q: exit %d, %q; want a usage error (2) naming the flag", cmd, bad, code, errs)
			}
		}
	}
	if code, _, errs := runCLI(t, t.Context(), "", "serve", "--memory-limit", "512"); code != 2 || !strings.Contains(errs, "did you mean 512MiB?") {
		t.Errorf("serve --memory-limit 512: exit %d, %q; want a usage error (2) suggesting 512MiB", code, errs)
	}
	for _, tiny := range []string{"1", "512", "4096", "1KiB"} {
		var m memoryLimit
		if err := m.Set(tiny); err == nil {
			t.Errorf("--memory-limit %s accepted as %d bytes; want it refused (below any heap the service runs in: a missing unit)", tiny, m.bytes)
		}
	}
}
