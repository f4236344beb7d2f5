package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	target := " " + runtime.GOOS + "/" + runtime.GOARCH
	cases := []struct {
		name          string
		bi            *debug.BuildInfo
		ok            bool
		ldVer, ldDate string
		want          buildInfo
	}{
		{"build info only", bi, true, "", "",
			buildInfo{"v1.2.3", "0123456789abcdef0123456789abcdef01234567-modified", "2026-12-01T10:00:00Z", "committed", "go1.99.1" + target}},
		{"release ldflags win", bi, true, "1.4.0", "2026-12-07T05:00:00Z",
			buildInfo{"1.4.0", "0123456789abcdef0123456789abcdef01234567-modified", "2026-12-07T05:00:00Z", "built", "go1.99.1" + target}},
		{"no build info", nil, false, "", "",
			buildInfo{"(devel)", "unknown", "unknown", "built", runtime.Version() + target}},
		{"empty main version", &debug.BuildInfo{GoVersion: "go1.99.1"}, true, "", "",
			buildInfo{"(devel)", "unknown", "unknown", "built", "go1.99.1" + target}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := readBuildInfo(c.bi, c.ok, c.ldVer, c.ldDate); got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		code, stdout, stderr := runCLI(t, context.Background(), "", arg)
		if code != exitOK || stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, stderr)
		}
		for _, want := range []string{"mailverify ", "\ncommit ", "\ngo        " + runtime.Version()} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: %q lacks %q", arg, stdout, want)
			}
		}
	}
	if code, _, stderr := runCLI(t, context.Background(), "", "version", "extra"); code != exitConfig || !strings.Contains(stderr, "no arguments") {
		t.Errorf("version extra: exit %d, %q; want a usage error", code, stderr)
	}
}

// TestVersionOfBuiltBinary builds the command as a release does, with the
// -X flags of .goreleaser.yaml, and checks that the binary reports them
// and the commit the go command stamped.
func TestVersionOfBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "mailverify")
	ld := "-X main.version=9.8.7 -X main.buildDate=2026-12-07T05:00:00Z"
	// -buildvcs=auto as the release sets it, whatever GOFLAGS says.
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-ldflags", ld, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, "mailverify 9.8.7\n") || !strings.Contains(s, "\nbuilt     2026-12-07T05:00:00Z\n") {
		t.Errorf("version output %q; want the -X values", s)
	}
	// A clone stamps vcs.revision. A tarball has no .git, and the go
	// command stamps nothing in a linked worktree (.git is a file there).
	if fi, err := os.Stat("../../.git"); err != nil || !fi.IsDir() {
		t.Logf("not a clone: the commit (%q) is not checked", s)
		return
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	if !regexp.MustCompile(`\ncommit    ` + strings.TrimSpace(string(head)) + `(-modified)?\n`).MatchString(s) {
		t.Errorf("version output %q; want commit %s", s, head)
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	ctx := context.Background()
	if code, _, stderr := runCLI(t, ctx, "", "healthcheck", "--url", srv.URL+"/readyz"); code != exitOK {
		t.Errorf("ready: exit %d, %s", code, stderr)
	}
	status = http.StatusServiceUnavailable
	if code, _, stderr := runCLI(t, ctx, "", "healthcheck", "--url", srv.URL+"/readyz"); code != exitIO || !strings.Contains(stderr, "503") {
		t.Errorf("not ready: exit %d, %q; want 1 and the status", code, stderr)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if code, _, stderr := runCLI(t, ctx, "", "healthcheck", "--url", closed.URL+"/readyz"); code != exitIO || !strings.Contains(stderr, "unhealthy") {
		t.Errorf("nothing listening: exit %d, %q; want 1", code, stderr)
	}
	if code, _, _ := runCLI(t, ctx, "", "healthcheck", "--url", "ftp://x/"); code != exitConfig {
		t.Errorf("ftp URL: exit %d; want a usage error", code)
	}
	if code, _, _ := runCLI(t, ctx, "", "healthcheck", "stray"); code != exitConfig {
		t.Errorf("stray argument: exit %d; want a usage error", code)
	}
}
