// Command mailverify tells whether email addresses can receive mail,
// without sending any.
//
//	mailverify [flags] [address ...]
//	mailverify diagnose [flags] DOMAIN
//	mailverify doctor [flags]           this machine's setup for probing: port 25, PTR, HELO, SPF, blocklists
//	mailverify serve [flags]            the HTTP API and bulk jobs on NATS JetStream
//	mailverify worker --nats URL [flags] a prober of a cluster's partitions
//	mailverify feedback --history FILE  record bounces and deliveries
//
// With no address arguments it reads addresses from stdin (or --input),
// one per line, or from a CSV column with --csv. It writes one JSON object
// per address (the verify.Result schema) to stdout or -o FILE, in input
// order, or CSV with --format csv. With -o FILE --resume it skips the
// addresses FILE already holds, so an interrupted run continues where it
// stopped. It exits 0 when every input was processed (verdicts are data),
// 2 on a usage or configuration error, 1 when output cannot be written,
// and 130 when interrupted (Ctrl-C or SIGTERM: the work in flight is
// abandoned within a moment and what was verified is written; a second
// Ctrl-C exits at once).
//
// Run "mailverify -h" for the flags.
//
// "mailverify version" (or --version) prints the release, commit, date and
// Go version of the build; "mailverify healthcheck [--url URL]" exits 0 when
// a running serve answers /readyz, the container image's health check.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK          = 0
	exitIO          = 1
	exitConfig      = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report a process killed by Ctrl-C
)

// run is the whole command, testable in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-version", "healthcheck":
			return releaseCmd(ctx, args, stdout, stderr)
		case "diagnose":
			return diagnoseCmd(ctx, args[1:], stdout, stderr)
		case "doctor":
			return doctorCmd(ctx, args[1:], stdout, stderr)
		case "serve":
			return serve(ctx, args[1:], stderr)
		case "worker":
			return worker(ctx, args[1:], stderr)
		case "feedback":
			return feedbackCmd(ctx, args[1:], stdin, stderr)
		}
	}
	return check(ctx, args, stdin, stdout, stderr)
}
