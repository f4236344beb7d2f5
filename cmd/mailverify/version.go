package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Set by the release build's -ldflags -X (see .goreleaser.yaml): a build
// from a checkout cannot learn its release version (the workspace reports
// "(devel)") or when it was built. Everything else comes from the build
// info the go command records.
var (
	version   string
	buildDate string
)

// buildInfo is what "mailverify version" reports.
type buildInfo struct {
	Version  string // a release's version, the module's (v1.2.3, a pseudo-version) or "(devel)"
	Commit   string // vcs.revision, with "-modified" when the tree had changes
	Date     string // the build's date from the release, else the commit's (vcs.time)
	DateKind string // "built" or "committed"
	Go       string // the toolchain and the target
}

// readBuildInfo gathers the build info of this binary; ldVersion and
// ldDate are the -X values, empty when not set.
func readBuildInfo(bi *debug.BuildInfo, ok bool, ldVersion, ldDate string) buildInfo {
	out := buildInfo{Version: "(devel)", Commit: "unknown", Date: "unknown", DateKind: "built",
		Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if ok {
		if v := bi.Main.Version; v != "" {
			out.Version = v
		}
		if bi.GoVersion != "" {
			out.Go = bi.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				out.Commit = s.Value
			case "vcs.time":
				out.Date, out.DateKind = s.Value, "committed"
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && out.Commit != "unknown" {
			out.Commit += "-modified"
		}
	}
	if ldVersion != "" {
		out.Version = ldVersion
	}
	if ldDate != "" {
		out.Date, out.DateKind = ldDate, "built"
	}
	return out
}

func (b buildInfo) String() string {
	return fmt.Sprintf("mailverify %s\ncommit    %s\n%-9s %s\ngo        %s\n", b.Version, b.Commit, b.DateKind, b.Date, b.Go)
}

// releaseCmd runs "version" (and "--version") and "healthcheck".
func releaseCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], stderr)
	}
	if len(args) > 1 {
		return usageError(stderr, "version takes no arguments; got %q", args[1:])
	}
	bi, ok := debug.ReadBuildInfo()
	fmt.Fprint(stdout, readBuildInfo(bi, ok, version, buildDate))
	return exitOK
}

// healthcheck asks a running "mailverify serve" whether it is ready: the
// container image's HEALTHCHECK, which has no shell or curl to run.
// It exits 0 when the answer is 200, else 1.
func healthcheck(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailverify healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8025/readyz", "`URL` to ask; 200 means healthy")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if code, ok := parseNoArgs(fs, args, stderr, "healthcheck [--url URL]\n\nExits 0 when the service at URL answers 200 (the image's HEALTHCHECK)."); !ok {
		return code
	}
	if !strings.HasPrefix(*url, "http://") && !strings.HasPrefix(*url, "https://") {
		return usageError(stderr, "--url %q: want an http:// or https:// URL", *url)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usageError(stderr, "--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "mailverify: unhealthy: %v\n", err)
		return exitIO
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "mailverify: unhealthy: %s: %s %s\n", *url, resp.Status, strings.TrimSpace(string(body)))
		return exitIO
	}
	return exitOK
}
