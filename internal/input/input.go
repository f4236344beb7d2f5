// Package input reads lists of addresses as people have them: one per
// line, a column of a CSV file, or NDJSON objects, with the hygiene real
// files need (surrounding spaces, tabs, CR and a byte-order mark trimmed,
// blank entries skipped). The command and the service read the same way.
package input

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mailverify/mailverify/internal/csvsniff"
)

// An Entry is one input: the text as given, the address to verify, and
// the caller's reference for it (NDJSON's "ref"), if any.
type Entry struct{ Raw, Addr, Ref string }

// MaxRef is the longest reference NDJSON takes.
const MaxRef = 256

// Clean trims what surrounds an address in real files: spaces, tabs, CR,
// a byte-order mark.
func Clean(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' })
}

// MaxLine is the longest line Lines and NDJSON read.
const MaxLine = 1 << 20

// A Reader yields entries; Err, once the sequence ends, tells why it
// ended early, if it did.
type Reader struct {
	All func(yield func(Entry) bool)
	err error
	n   int // lines or records read
}

// Err is the error that stopped reading, or nil.
func (r *Reader) Err() error { return r.err }

// Line is the number of the line (or CSV record) read last.
func (r *Reader) Line() int { return r.n }

// Lines reads one address per line.
func Lines(src io.Reader) *Reader {
	return scan(src, func(text string) (Entry, error) {
		raw := strings.TrimRight(text, "\r")
		return Entry{Raw: raw, Addr: Clean(raw)}, nil
	})
}

// scan reads src a line at a time; entry makes each line an Entry (one
// with an empty Addr is skipped) or says why the input is refused.
func scan(src io.Reader, entry func(line string) (Entry, error)) *Reader {
	rd := &Reader{}
	rd.All = func(yield func(Entry) bool) {
		sc := bufio.NewScanner(src)
		sc.Buffer(make([]byte, 0, 64*1024), MaxLine)
		for sc.Scan() {
			rd.n++
			e, err := entry(sc.Text())
			if err != nil {
				rd.err = fmt.Errorf("line %d: %w", rd.n, err)
				return
			}
			if e.Addr != "" && !yield(e) {
				return
			}
		}
		rd.err = lineError(rd.n+1, sc.Err())
	}
	return rd
}

func lineError(n int, err error) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("line %d: longer than %d bytes", n, MaxLine)
	}
	return err
}

// CSV reads one column of a CSV file with a header, in the encoding
// (UTF-8, UTF-16 with a byte-order mark, else Windows-1252) and with the
// separator (comma, semicolon, tab or pipe) it is written in. column
// names it (any case) or gives its number from 1; empty picks the column whose header
// says email, e-mail, address or mail, else the first. The header is read
// at once, so that a missing column is an error before any entry.
func CSV(src io.Reader, column string) (*Reader, error) {
	// The separator, the quoting and the encoding are the file's, as
	// spreadsheets write them (package csvsniff).
	br := bufio.NewReaderSize(src, csvsniff.SampleSize)
	sample, _ := br.Peek(csvsniff.SampleSize)
	f := csvsniff.Sniff(sample)
	cr := csv.NewReader(csvsniff.Decoder(br, f.Encoding))
	cr.Comma, cr.LazyQuotes = f.Sep, f.Lazy
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	header = slices.Clone(header)
	col, err := pickColumn(header, column)
	if err != nil {
		return nil, err
	}
	rd := &Reader{n: 1}
	rd.All = func(yield func(Entry) bool) {
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			rd.n++
			if err != nil {
				rd.err = err
				return
			}
			if col < len(rec) {
				if a := Clean(rec[col]); a != "" && !yield(Entry{Raw: rec[col], Addr: a}) {
					return
				}
			}
		}
	}
	return rd, nil
}

func pickColumn(header []string, column string) (int, error) {
	if column != "" {
		if i := slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(Clean(h), column) }); i >= 0 {
			return i, nil
		}
		if n, err := strconv.Atoi(column); err == nil && n >= 1 && n <= len(header) {
			return n - 1, nil
		}
		return 0, fmt.Errorf("no column %q in the header %q", column, header)
	}
	for _, want := range []string{"email", "e-mail", "email address", "address", "mail"} {
		if i := slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(Clean(h), want) }); i >= 0 {
			return i, nil
		}
	}
	if i := slices.IndexFunc(header, func(h string) bool { return strings.Contains(strings.ToLower(h), "mail") }); i >= 0 {
		return i, nil
	}
	return 0, nil
}

// NDJSON reads objects with an "address" member, one per line, and an
// optional "ref" string that the results carry back.
func NDJSON(src io.Reader) *Reader {
	return scan(src, func(text string) (Entry, error) {
		line := strings.TrimSpace(text)
		if line == "" {
			return Entry{}, nil
		}
		var obj struct {
			Address *string `json:"address"`
			Ref     string  `json:"ref"`
		}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			return Entry{}, fmt.Errorf("not a JSON object: %v", err)
		}
		if obj.Address == nil {
			return Entry{}, errors.New(`no "address" member`)
		}
		if len(obj.Ref) > MaxRef {
			return Entry{}, fmt.Errorf("ref is longer than %d bytes", MaxRef)
		}
		if strings.ContainsFunc(obj.Ref, unicode.IsControl) {
			return Entry{}, errors.New("ref has control characters")
		}
		return Entry{Raw: *obj.Address, Addr: Clean(*obj.Address), Ref: obj.Ref}, nil
	})
}

// Seq adapts All to iter.Seq.
func (r *Reader) Seq() iter.Seq[Entry] { return r.All }
