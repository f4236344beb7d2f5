package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mailverify/mailverify/cmd/mailverify/internal/historydb"
	"github.com/mailverify/mailverify/feedback"
)

// feedbackCmd records bounces and deliveries into a history file, which
// check and serve read with --history.
//
//	mailverify feedback --history FILE [file ...]   (stdin when no file)
func feedbackCmd(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailverify feedback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("history", "", "the history `file` to record into (created if missing)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailverify feedback --history FILE [file ...]\n\nRecords bounces and deliveries — an mbox or .eml of delivery status notifications, or ESP records as NDJSON — for later checks (--history FILE).")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return exitConfig
	}
	if *path == "" {
		return usageError(stderr, "feedback needs --history FILE")
	}
	db, err := historydb.Open(*path)
	if err != nil {
		return usageError(stderr, "--history %s: %v", *path, err)
	}
	defer db.Close()
	inputs := []func() (io.ReadCloser, error){func() (io.ReadCloser, error) { return io.NopCloser(stdin), nil }}
	if len(files) > 0 {
		inputs = inputs[:0]
		for _, f := range files {
			inputs = append(inputs, func() (io.ReadCloser, error) { return os.Open(f) })
		}
	}
	var total feedback.Stats
	for _, open := range inputs {
		if ctx.Err() != nil {
			return exitInterrupted
		}
		r, err := open()
		if err != nil {
			return usageError(stderr, "%v", err)
		}
		var batch []feedback.Event
		st, err := feedback.Read(r, func(e feedback.Event) error {
			if batch = append(batch, e); len(batch) == 1000 {
				err := db.RecordAll(batch)
				batch = batch[:0]
				return err
			}
			return nil
		})
		r.Close()
		if err == nil {
			err = db.RecordAll(batch)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mailverify: %v\n", err)
			return exitIO
		}
		total.Messages += st.Messages
		total.Events += st.Events
		total.Skipped += st.Skipped
	}
	fmt.Fprintf(stderr, "mailverify: recorded %d events (%d messages read, %d not delivery reports) in %s\n", total.Events, total.Messages, total.Skipped, *path)
	return exitOK
}
