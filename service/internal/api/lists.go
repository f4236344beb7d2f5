package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mailverify/mailverify/internal/csvsniff"
	"github.com/mailverify/mailverify/internal/input"
	"github.com/mailverify/mailverify/service/internal/jobs"
)

// sampleRows is how many rows the column is picked and checked on.
const sampleRows = 1000

// overlong is where an overlong cell is cut: it is verified (and found
// invalid) instead of refusing the file.
const overlong = 300

// listOptions are what POST /v1/lists is asked.
type listOptions struct {
	name, column string
	header       string // "true", "false" or "" (decide)
	dedupe       bool
	format       csvsniff.Format
}

func parseListOptions(r *http.Request, f csvsniff.Format) (listOptions, error) {
	q := r.URL.Query()
	o := listOptions{name: path.Base(strings.ReplaceAll(q.Get("name"), `\`, "/")), column: q.Get("column"), header: q.Get("header"), format: f}
	if o.name == "." || o.name == "/" {
		o.name = "list.csv"
	}
	if len(o.name) > 255 || !utf8.ValidString(o.name) {
		return o, errors.New("name must be a file name of at most 255 bytes")
	}
	if o.header != "" && o.header != "true" && o.header != "false" {
		return o, errors.New("header must be true or false")
	}
	var err error
	if o.dedupe, err = dedupeParam(q); err != nil {
		return o, err
	}
	if v := q.Get("separator"); v != "" {
		seps := map[string]rune{"comma": ',', "semicolon": ';', "tab": '\t', "pipe": '|'}
		sep, ok := seps[v]
		if !ok {
			return o, errors.New("separator must be comma, semicolon, tab or pipe")
		}
		o.format.Sep = sep
	}
	if v := q.Get("encoding"); v != "" {
		switch v {
		case csvsniff.UTF8, csvsniff.UTF8BOM, csvsniff.UTF16LE, csvsniff.UTF16BE, csvsniff.Windows1252:
			o.format.Encoding = v
		default:
			return o, errors.New("encoding must be utf-8, utf-8-bom, utf-16le, utf-16be or windows-1252")
		}
	}
	return o, nil
}

// createList takes a list file as people have it (CSV in any of the
// common separators and encodings, or one address a line), keeps it with
// the job for the downloads, and queues its addresses.
func (s *Server) createList(w http.ResponseWriter, r *http.Request) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	object := "upload-" + hex.EncodeToString(rnd[:])
	ctx := r.Context()
	size, err := s.Bus.PutObject(ctx, object, http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		s.Bus.DeleteObjects(context.WithoutCancel(ctx), object)
		if tooLarge(err) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "too-large", "the file is larger than "+strconv.FormatInt(s.maxBody(), 10)+" bytes; nothing was stored")
			return
		}
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "could not store the file: "+err.Error())
		return
	}
	stored, sheet, err := s.workbook(ctx, object)
	job, status, detail := (*jobs.Job)(nil), http.StatusUnprocessableEntity, ""
	if err != nil {
		detail = err.Error() + "; nothing was stored"
	} else {
		job, status, detail = s.submitList(r, stored, size, sheet)
	}
	if job == nil {
		s.Bus.DeleteObjects(context.WithoutCancel(ctx), object, object+".rows", object+".csv", object+".csv.rows")
		kind := map[int]string{400: "bad-request", 409: "in-progress", 422: "bad-input", 503: "unavailable"}[status]
		writeProblem(w, status, kind, detail)
		return
	}
	s.Metrics.jobCreated()
	w.Header().Set("Location", "/v1/jobs/"+job.ID)
	writeJSON(w, http.StatusAccepted, job)
}

// submitList reads the stored upload: the format, the column, then the
// job. It returns the job, or the status and detail of the refusal.
func (s *Server) submitList(r *http.Request, object string, size int64, sheet string) (*jobs.Job, int, string) {
	ctx := r.Context()
	src, err := s.Bus.OpenObject(ctx, object)
	if err != nil {
		return nil, http.StatusServiceUnavailable, err.Error()
	}
	defer src.Close()
	br := bufio.NewReaderSize(src, csvsniff.SampleSize)
	sample, _ := br.Peek(csvsniff.SampleSize)
	if len(sample) == 0 {
		return nil, http.StatusUnprocessableEntity, "the file is empty; nothing was stored"
	}
	opts, err := parseListOptions(r, csvsniff.Sniff(sample))
	if err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	plan, err := planList(csvsniff.NewReader(br, opts.format), opts)
	if err != nil {
		return nil, http.StatusUnprocessableEntity, err.Error() + "; nothing was stored"
	}
	// The first pass read the sample; the second reads the whole file.
	src2, err := s.Bus.OpenObject(ctx, object)
	if err != nil {
		return nil, http.StatusServiceUnavailable, err.Error()
	}
	defer src2.Close()
	file := jobs.File{Name: opts.name, Size: size, Header: plan.header, Encoding: opts.format.Encoding,
		Separator: separatorName(opts.format.Sep), LazyQuotes: opts.format.Lazy, Dedupe: opts.dedupe, Object: object,
		ColumnIndex: plan.col + 1, Column: plan.colName, Sheet: sheet}
	spec := jobs.Spec{Owner: owner(r), IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if len(spec.IdempotencyKey) > 255 {
		return nil, http.StatusBadRequest, "Idempotency-Key is longer than 255 characters"
	}
	rows := &rowWriter{}
	lr := &listReader{plan: plan, file: &file, rows: rows, dedupe: &jobs.Dedupe{}}
	if opts.dedupe {
		spec.Dedupe = lr.dedupe
	}
	pr, pw := io.Pipe()
	put := make(chan error, 1)
	go func() {
		_, err := s.Bus.PutObject(context.WithoutCancel(ctx), object+".rows", bufio.NewReaderSize(pr, 64<<10))
		_ = pr.CloseWithError(err)
		put <- err
	}()
	rows.w = bufio.NewWriterSize(pw, 64<<10)
	lr.rd = csvsniff.NewReader(src2, opts.format)
	job, err := s.Bus.Submit(ctx, spec, lr.entries)
	if err == nil {
		err = rows.w.Flush()
	}
	_ = pw.CloseWithError(err)
	if perr := <-put; err == nil {
		err = perr
	}
	var inErr *jobs.InputError
	switch {
	case err == nil:
	case errors.Is(err, jobs.ErrInProgress):
		return nil, http.StatusConflict, err.Error()
	case errors.As(err, &inErr):
		return nil, http.StatusUnprocessableEntity, inErr.Error() + "; nothing was stored"
	default:
		return nil, http.StatusUnprocessableEntity, err.Error() + "; nothing was stored"
	}
	if job.File != nil { // a repeated request: the first one's job
		s.Bus.DeleteObjects(context.WithoutCancel(ctx), object, object+".rows")
		return job, 0, ""
	}
	if job, err = s.Bus.SetFile(ctx, job.ID, file); err != nil {
		return nil, http.StatusServiceUnavailable, err.Error()
	}
	return job, 0, ""
}

// A listPlan is what the sample decided.
type listPlan struct {
	header  bool
	col     int
	colName string
}

// planList reads the sample rows: is the first a header, which column
// holds the addresses, and does it.
func planList(rd *csvsniff.Reader, o listOptions) (listPlan, error) {
	var rows [][]string
	for len(rows) <= sampleRows {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return listPlan{}, fmt.Errorf("the file cannot be read as CSV: %w", err)
		}
		rows = append(rows, append([]string(nil), rec.Fields...))
	}
	if len(rows) == 0 {
		return listPlan{}, errors.New("the file has no rows")
	}
	var p listPlan
	var header []string
	switch o.header {
	case "true":
		p.header = true
	case "":
		// Decide: a header has no @ in the column that holds addresses.
		col, _ := csvsniff.PickColumn(nil, rows, o.column)
		p.header = len(rows) > 1 && csvsniff.LooksLikeHeader(rows[0], col)
	}
	data := rows
	if p.header {
		header, data = rows[0], rows[1:]
	}
	col, err := csvsniff.PickColumn(header, data, o.column)
	if err != nil {
		return p, err
	}
	p.col, p.colName = col, "column "+strconv.Itoa(col+1)
	if col < len(header) && strings.TrimSpace(header[col]) != "" {
		p.colName = strings.TrimSpace(header[col])
	}
	if err := csvsniff.CheckColumn(data, col, strconv.Quote(p.colName)); err != nil {
		return p, err
	}
	return p, nil
}

// A listReader reads the data rows of a list file for its job.
type listReader struct {
	rd     *csvsniff.Reader
	plan   listPlan
	file   *jobs.File
	rows   *rowWriter
	dedupe *jobs.Dedupe // counts the repeats, and leaves them out with file.Dedupe
}

// entries yields the addresses of the file's rows and writes the row map.
func (lr *listReader) entries(yield func(input.Entry) bool) error {
	p, f, rows := lr.plan, lr.file, lr.rows
	n := 0
	first := true
	for {
		rec, err := lr.rd.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &jobs.InputError{Msg: "the file cannot be read as CSV: " + err.Error()}
		}
		if first && p.header {
			first = false
			continue
		}
		first = false
		f.Rows++
		var cell string
		if p.col < len(rec.Fields) {
			cell = rec.Fields[p.col]
		}
		addr := csvsniff.Address(cell)
		if addr == "" {
			rows.put(-1, false)
			continue
		}
		if len(cell) > jobs.MaxInput || len(addr) > overlong {
			cell = cut(cell, overlong)
			addr = cut(addr, overlong)
		}
		i, repeat := lr.dedupe.See(addr, n)
		if repeat {
			f.Duplicates++
			if f.Dedupe {
				rows.put(i, true)
				continue
			}
		}
		rows.put(n, repeat)
		n++
		if !yield(input.Entry{Raw: cell, Addr: addr, Ref: strconv.Itoa(rec.Line)}) {
			return nil
		}
	}
}

// cut shortens s to at most n bytes, whole characters.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func separatorName(r rune) string {
	return map[rune]string{',': "comma", ';': "semicolon", '\t': "tab", '|': "pipe"}[r]
}

// The row map holds, for each data row, the job entry whose verdict it
// takes: a uvarint, 0 for a row without an address, else
// (entry+1)<<1 | duplicate.
type rowWriter struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
}

func (rw *rowWriter) put(entry int, dup bool) {
	v := uint64(0)
	if entry >= 0 {
		v = uint64(entry+1) << 1
		if dup {
			v |= 1
		}
	}
	n := binary.PutUvarint(rw.buf[:], v)
	_, _ = rw.w.Write(rw.buf[:n])
}

// readRow reads one row's entry from a row map: -1 for none.
func readRow(r io.ByteReader) (entry int, dup bool, err error) {
	v, err := binary.ReadUvarint(r)
	if err != nil || v == 0 {
		return -1, false, err
	}
	return int(v>>1) - 1, v&1 == 1, nil
}

// deleteJob deletes a job and everything stored for it, cancelling it
// first if it still runs.
func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	if err := s.Bus.Delete(r.Context(), owner(r), r.PathValue("id")); err != nil {
		s.jobError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
