package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// parseInterleaved parses flags anywhere among the arguments, as people
// type them ("mailverify jane@example.com --offline"); "--" ends the flags,
// and the rest are arguments even if they start with "-".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// commandLike matches an argument that is a word, not an address: a
// misspelt or future subcommand ("serve", "bulk") is a usage error, never
// an address to verify.
var commandLike = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// clean trims what surrounds an address in real files: spaces, tabs, CR,
// a byte-order mark.
func clean(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' })
}

// An entry is one input: the text as given, and the address to verify.
type entry struct{ raw, addr string }

// entries reads the inputs of r: one per line, or one cell of a CSV
// column, without holding them. Blank lines and cells are skipped. A CSV
// header is read at once, so that a missing column is an error before any
// work; an error while reading later is in *err once the sequence ends.
func entries(r io.Reader, isCSV bool, column string, err *error) (iter.Seq[entry], error) {
	if !isCSV {
		return func(yield func(entry) bool) {
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
			for sc.Scan() {
				raw := strings.TrimRight(sc.Text(), "\r")
				if a := clean(raw); a != "" && !yield(entry{raw, a}) {
					return
				}
			}
			*err = sc.Err()
		}, nil
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, e := cr.Read()
	if e != nil {
		return nil, fmt.Errorf("CSV header: %w", e)
	}
	col := 0
	if column != "" {
		col = slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(clean(h), column) })
		if col < 0 {
			return nil, fmt.Errorf("no column %q in the header %q", column, header)
		}
	}
	return func(yield func(entry) bool) {
		for {
			rec, e := cr.Read()
			if errors.Is(e, io.EOF) {
				return
			}
			if e != nil {
				*err = e
				return
			}
			if col < len(rec) {
				if a := clean(rec[col]); a != "" && !yield(entry{rec[col], a}) {
					return
				}
			}
		}
	}, nil
}
