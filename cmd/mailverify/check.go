package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"time"

	"github.com/mailverify/mailverify/internal/input"
)

type checkFlags struct {
	common
	eg                                                 egressFlags // egress.go
	smtp, offline, transcript, resume, csvIn, progress bool
	force, retryUnknown, dedupe, catchAll              bool
	concurrency, perHost, rcpts, window                int
	rate                                               float64
	cmdTimeout                                         time.Duration
	format, out, column, input, order                  string
}

func (f *checkFlags) register(fs *flag.FlagSet, stderr io.Writer) {
	f.common.register(fs)
	f.eg.register(fs)
	f.eg.state.register(fs)
	fs.BoolVar(&f.smtp, "smtp", true, "probe the mail servers; false stops after DNS")
	fs.BoolVar(&f.offline, "offline", false, "syntax and lists only: no network at all")
	fs.BoolVar(&f.catchAll, "catch-all", true, "probe for catch-all domains; false leaves accepted addresses unknown/cannot_verify")
	fs.IntVar(&f.concurrency, "concurrency", 16, "SMTP sessions at once")
	fs.IntVar(&f.perHost, "per-host", 2, "SMTP sessions at once per mail server")
	fs.Float64Var(&f.rate, "rate", 10, "RCPT commands per second per mail server")
	fs.IntVar(&f.rcpts, "rcpts", 20, "recipients per SMTP transaction")
	fs.DurationVar(&f.cmdTimeout, "command-timeout", 30*time.Second, "wait for each SMTP reply")
	fs.IntVar(&f.window, "window", 4096, "addresses in flight at most (memory is about 1 KB each)")
	fs.BoolVar(&f.transcript, "transcript", false, "include the SMTP transcript in each result")
	fs.StringVar(&f.format, "format", "json", "output format: json (one object per line) or csv")
	fs.StringVar(&f.order, "order", "", "input: results in input order; done: as each is ready (default: input on stdout, done with -o)")
	fs.StringVar(&f.out, "o", "", "write results to `file`, each written as soon as it is ready")
	fs.BoolVar(&f.resume, "resume", false, "with -o: keep the file and skip the addresses it holds")
	fs.BoolVar(&f.force, "force", false, "with -o: overwrite a file that is not empty")
	fs.BoolVar(&f.retryUnknown, "retry-unknown", false, "with --resume: verify again the addresses whose status was unknown")
	fs.BoolVar(&f.dedupe, "dedupe", false, "verify each address once (case-insensitively); duplicates get its result")
	fs.BoolVar(&f.csvIn, "csv", false, "read the input as CSV with a header row")
	fs.StringVar(&f.column, "column", "", "the CSV column holding addresses, by header or number from 1; implies --csv (default: a column named email, e-mail, address or mail, else the first)")
	fs.StringVar(&f.input, "input", "", "read addresses from `file` instead of stdin")
	fs.BoolVar(&f.progress, "progress", isTerminal(stderr), "show a progress bar on stderr")
}

// validate checks the flags that need each other.
func (f *checkFlags) validate(args []string) error {
	if f.column != "" {
		f.csvIn = true
	}
	if f.order == "" {
		f.order = "input"
		if f.out != "" {
			f.order = "done" // durable: nothing waits in memory behind a slow address
		}
	}
	for _, a := range args {
		if commandLike.MatchString(a) {
			return fmt.Errorf("unknown command %q (addresses have an @; put -- before arguments that are addresses)", a)
		}
	}
	switch {
	case f.format != "json" && f.format != "csv":
		return fmt.Errorf("--format %q: want json or csv", f.format)
	case f.order != "input" && f.order != "done":
		return fmt.Errorf("--order %q: want input or done", f.order)
	case f.resume && f.out == "":
		return errors.New("--resume needs -o FILE")
	case f.retryUnknown && !f.resume:
		return errors.New("--retry-unknown needs --resume")
	case len(args) > 0 && (f.input != "" || f.csvIn):
		return errors.New("give addresses as arguments or as input, not both")
	case f.concurrency <= 0 || f.perHost <= 0 || f.rate <= 0 || f.rcpts <= 0 || f.window <= 0 || f.cmdTimeout <= 0:
		return errors.New("--concurrency, --per-host, --rate, --rcpts, --window and --command-timeout must be positive")
	}
	return nil
}

func check(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f checkFlags
	fs := flag.NewFlagSet("mailverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailverify [flags] [address ...]\n       mailverify diagnose [flags] DOMAIN\n\nFlags may come before or after the addresses; -- ends them.\n\nflags:")
		fs.PrintDefaults()
	}
	words, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	var explicit []string // after --: addresses whatever they look like
	if i := slices.Index(args, "--"); i >= 0 {
		explicit = args[i+1:]
		words = words[:len(words)-len(explicit)]
	}
	if err := f.validate(words); err != nil {
		return usageError(stderr, "%v", err)
	}
	v, err := f.verifier()
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	v.SkipSMTP, v.Offline, v.Transcript, v.SkipCatchAll = !f.smtp, f.offline, f.transcript, !f.catchAll
	v.Concurrency, v.PerHost, v.PerHostRate = f.concurrency, f.perHost, f.rate
	v.MaxRcpts, v.CommandTimeout, v.Window = f.rcpts, f.cmdTimeout, f.window
	if err := f.eg.apply(v, f.socks5, stderr); err != nil {
		return usageError(stderr, "%v", err)
	}
	if err := f.eg.state.load(v); err != nil {
		return usageError(stderr, "%v", err)
	}

	var in iter.Seq[input.Entry]
	readErr := func() error { return nil }
	total := 0
	if addrs := append(words, explicit...); len(addrs) > 0 {
		in, total = argEntries(addrs), len(addrs)
	} else {
		r := stdin
		if f.input != "" {
			file, err := os.Open(f.input)
			if err != nil {
				return usageError(stderr, "%v", err)
			}
			defer file.Close()
			r = file
		}
		rd := input.Lines(r)
		if f.csvIn {
			if rd, err = input.CSV(r, f.column); err != nil {
				return usageError(stderr, "reading input: %v", err)
			}
		}
		in = rd.Seq()
		readErr = rd.Err
	}

	out := stdout
	var done map[string]bool
	if f.out != "" {
		file, seen, err := openOutput(f.out, f.format, outputMode{resume: f.resume, force: f.force, retryUnknown: f.retryUnknown})
		if err != nil {
			return usageError(stderr, "%v", err)
		}
		defer file.Close()
		out, done = file, seen
	}
	var bar *progress
	if f.progress {
		bar = newProgress(stderr, total-len(done))
	}
	pl := newPipeline(newWriter(out, f.format, len(done) > 0), bar, f.order == "input", 2*f.window, f.dedupe, done)
	werr := pl.run(ctx, v, in)
	summary(stderr, v)
	f.eg.state.save(stderr)
	if pl.skipped > 0 {
		fmt.Fprintf(stderr, "mailverify: resuming: skipped %d inputs already in %s\n", pl.skipped, f.out)
	}
	switch {
	case werr != nil:
		fmt.Fprintf(stderr, "mailverify: %v\n", werr)
		return exitIO
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "mailverify: interrupted; run again with --resume to continue")
		return exitInterrupted
	case readErr() != nil:
		fmt.Fprintf(stderr, "mailverify: reading input: %v\n", readErr())
		return exitIO
	}
	return exitOK
}

// argEntries are the addresses given as arguments.
func argEntries(addrs []string) iter.Seq[input.Entry] {
	return func(yield func(input.Entry) bool) {
		for _, a := range addrs {
			if c := input.Clean(a); c != "" && !yield(input.Entry{Raw: a, Addr: c}) {
				return
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
