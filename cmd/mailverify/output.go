package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/mailverify/mailverify/internal/resultcsv"
	"github.com/mailverify/mailverify/verify"
)

type resultWriter interface{ write(verify.Result) error }

// newWriter returns a writer of JSON lines or CSV rows; appending says the
// file already has a CSV header.
func newWriter(w io.Writer, format string, appending bool) resultWriter {
	if format == "csv" {
		return &csvWriter{w: csv.NewWriter(w), headerDone: appending}
	}
	return &jsonWriter{w: w}
}

type jsonWriter struct {
	w   io.Writer
	buf []byte
}

func (j *jsonWriter) write(r verify.Result) error {
	j.buf = append(r.AppendJSON(j.buf[:0]), '\n')
	_, err := j.w.Write(j.buf) // one write per result: a crash leaves whole lines
	return err
}

type csvWriter struct {
	w          *csv.Writer
	headerDone bool
}

func (c *csvWriter) write(r verify.Result) error {
	if !c.headerDone {
		c.w.Write(resultcsv.Columns)
		c.headerDone = true
	}
	c.w.Write(resultcsv.Row(r))
	c.w.Flush()
	return c.w.Error()
}

// outputMode says how to open an output file that exists.
type outputMode struct {
	resume       bool // keep it and skip the inputs it holds
	force        bool // overwrite it even if not empty
	retryUnknown bool // with resume: drop its unknown results, to verify again
}

// openOutput opens the output file for appending (resume) or writing, and
// returns the inputs it already holds. A last line cut short by a crash is
// removed first. Without resume, a file that is not empty is refused
// unless forced: results are not thrown away by accident.
func openOutput(path, format string, m outputMode) (*os.File, map[string]bool, error) {
	if !m.resume {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 && !m.force {
			return nil, nil, fmt.Errorf("%s exists and is not empty: use --resume to continue it or --force to overwrite it", path)
		}
		f, err := os.Create(path)
		return f, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 != len(data) {
		data = data[:i+1]
	}
	if m.retryUnknown {
		data = dropUnknown(data, format)
	}
	if err := rewrite(f, data); err != nil {
		f.Close()
		return nil, nil, err
	}
	seen, err := inputsIn(data, format)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	return f, seen, nil
}

// rewrite makes f hold data and leaves it positioned at the end.
func rewrite(f *os.File, data []byte) error {
	if st, err := f.Stat(); err == nil && st.Size() == int64(len(data)) {
		_, err := f.Seek(0, io.SeekEnd)
		return err // unchanged
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	_, err := f.Seek(int64(len(data)), io.SeekStart)
	return err
}

// dropUnknown removes the results whose status is unknown.
func dropUnknown(data []byte, format string) []byte {
	var out []byte
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		unknown := false
		if format == "csv" {
			rec, err := csv.NewReader(bytes.NewReader(line)).Read()
			unknown = err == nil && i > 0 && len(rec) > 1 && rec[1] == "unknown"
		} else {
			var r struct {
				Status string `json:"status"`
			}
			unknown = json.Unmarshal(line, &r) == nil && r.Status == "unknown"
		}
		if !unknown {
			out = append(out, line...)
		}
	}
	return out
}

func inputsIn(data []byte, format string) (map[string]bool, error) {
	seen := map[string]bool{}
	if format == "csv" {
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			return nil, err
		}
		for i, rec := range recs {
			if i > 0 && len(rec) > 0 {
				seen[rec[0]] = true
			}
		}
		return seen, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		var r struct {
			Input *string `json:"input"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Input != nil {
			seen[*r.Input] = true
		}
	}
	return seen, sc.Err()
}
