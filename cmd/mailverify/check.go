package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mailverify/mailverify/verify"
)

type checkFlags struct {
	common
	smtp, offline, transcript, resume, csvIn, progress bool
	concurrency, perHost                               int
	rate                                               float64
	format, out, column, input                         string
}

func check(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f checkFlags
	fs := flag.NewFlagSet("mailverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	fs.BoolVar(&f.smtp, "smtp", true, "probe the mail servers; false stops after DNS")
	fs.BoolVar(&f.offline, "offline", false, "syntax and lists only: no network at all")
	fs.IntVar(&f.concurrency, "concurrency", 16, "domains verified at once")
	fs.IntVar(&f.perHost, "per-host", 2, "SMTP sessions at once per mail server")
	fs.Float64Var(&f.rate, "rate", 10, "RCPT commands per second per mail server")
	fs.BoolVar(&f.transcript, "transcript", false, "include the SMTP transcript in each result")
	fs.StringVar(&f.format, "format", "json", "output format: json (one object per line) or csv")
	fs.StringVar(&f.out, "o", "", "write results to `file` (appended, flushed per result)")
	fs.BoolVar(&f.resume, "resume", false, "with -o: skip addresses already in the file")
	fs.BoolVar(&f.csvIn, "csv", false, "read the input as CSV with a header row")
	fs.StringVar(&f.column, "column", "", "the CSV column holding addresses; implies --csv (default: the first column)")
	fs.StringVar(&f.input, "input", "", "read addresses from `file` instead of stdin")
	fs.BoolVar(&f.progress, "progress", isTerminal(stderr), "show a progress bar on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailverify [flags] [address ...]\n       mailverify diagnose [flags] DOMAIN\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if f.column != "" {
		f.csvIn = true
	}
	switch {
	case f.format != "json" && f.format != "csv":
		return usageError(stderr, "--format %q: want json or csv", f.format)
	case f.resume && f.out == "":
		return usageError(stderr, "--resume needs -o FILE")
	case fs.NArg() > 0 && (f.input != "" || f.csvIn):
		return usageError(stderr, "give addresses as arguments or as input, not both")
	case f.concurrency <= 0 || f.perHost <= 0 || f.rate <= 0:
		return usageError(stderr, "--concurrency, --per-host and --rate must be positive")
	}
	v, err := f.verifier()
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	v.SkipSMTP, v.Offline, v.Transcript = !f.smtp, f.offline, f.transcript
	v.Concurrency, v.PerHost, v.PerHostRate = f.concurrency, f.perHost, f.rate

	addrs := fs.Args()
	if len(addrs) == 0 {
		in := stdin
		if f.input != "" {
			file, err := os.Open(f.input)
			if err != nil {
				return usageError(stderr, "%v", err)
			}
			defer file.Close()
			in = file
		}
		if addrs, err = readInput(in, f.csvIn, f.column); err != nil {
			return usageError(stderr, "reading input: %v", err)
		}
	}

	out := stdout
	var done map[string]bool
	if f.out != "" {
		file, seen, err := openOutput(f.out, f.format, f.resume)
		if err != nil {
			return usageError(stderr, "%v", err)
		}
		defer file.Close()
		out, done = file, seen
	}
	var todo []string
	for _, a := range addrs {
		if !done[a] {
			todo = append(todo, a)
		}
	}
	if skipped := len(addrs) - len(todo); skipped > 0 {
		fmt.Fprintf(stderr, "mailverify: resuming: %d of %d addresses already in %s\n", skipped, len(addrs), f.out)
	}

	w := newWriter(out, f.format, len(done) > 0)
	var bar *progress
	if f.progress {
		bar = newProgress(stderr, len(todo))
	}
	if err := verifyInOrder(ctx, v, todo, w, bar); err != nil {
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
		return exitIO
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "mailverify: interrupted; run again with --resume to continue")
	}
	return exitOK
}

// verifyInOrder verifies addrs and writes the results in input order,
// each flushed as soon as every earlier one is written. When ctx ends it
// stops: results not yet written will be verified again by --resume.
func verifyInOrder(ctx context.Context, v *verify.Verifier, addrs []string, w resultWriter, bar *progress) error {
	pending := map[int]verify.Result{}
	next := 0
	for i, r := range v.VerifyAll(ctx, addrs) {
		if ctx.Err() != nil {
			break
		}
		pending[i] = r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err := w.write(r); err != nil {
				return err
			}
			bar.add(r)
		}
	}
	bar.finish()
	return nil
}

// readInput reads addresses: one per line, or the column of a CSV file.
// Blank lines are skipped; every other line is an input, even if it is no
// address (it gets invalid_syntax).
func readInput(r io.Reader, isCSV bool, column string) ([]string, error) {
	var out []string
	if !isCSV {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for sc.Scan() {
			l := strings.TrimRight(sc.Text(), "\r")
			if strings.TrimSpace(l) != "" {
				out = append(out, l)
			}
		}
		return out, sc.Err()
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	col := 0
	if column != "" {
		col = -1
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), column) {
				col = i
			}
		}
		if col < 0 {
			return nil, fmt.Errorf("no column %q in the header %q", column, header)
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if col < len(rec) && strings.TrimSpace(rec[col]) != "" {
			out = append(out, rec[col])
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
