package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mailverify/mailverify/internal/csvsniff"
	"github.com/mailverify/mailverify/service/internal/jobs"
)

// verdictColumns are appended to each row of a downloaded file.
var verdictColumns = []string{"mv_status", "mv_reason", "mv_suggestion", "mv_catch_all", "mv_disposable",
	"mv_role_account", "mv_free_provider", "mv_duplicate"}

// downloadBatch is how many rows are read before their results are
// fetched: the memory of a download, whatever the job's size.
const downloadBatch = 256

// A verdict is the part of a stored result a download writes.
type verdict struct {
	Input        string `json:"input"`
	Status       string `json:"status"`
	Reason       string `json:"reason"`
	Local        string `json:"local_part"`
	Suggestion   string `json:"suggestion"`
	CatchAll     string `json:"catch_all"`
	Disposable   bool   `json:"disposable"`
	RoleAccount  bool   `json:"role_account"`
	FreeProvider bool   `json:"free_provider"`
}

func (v *verdict) cells(dup bool) []string {
	if v == nil {
		return make([]string, len(verdictColumns))
	}
	suggestion := ""
	if v.Suggestion != "" {
		local := v.Local
		if local == "" {
			local, _, _ = strings.Cut(v.Input, "@")
		}
		suggestion = strings.TrimSpace(local) + "@" + v.Suggestion
	}
	return []string{v.Status, v.Reason, suggestion, v.CatchAll, strconv.FormatBool(v.Disposable),
		strconv.FormatBool(v.RoleAccount), strconv.FormatBool(v.FreeProvider), strconv.FormatBool(dup)}
}

// A bucket filter keeps rows by their verdict: status names, and
// catch_all or risky_other for the two kinds of risky.
type bucket map[string]bool

func (b bucket) keeps(v *verdict) bool {
	if len(b) == 0 {
		return true
	}
	if v == nil {
		return false
	}
	if v.Status == "risky" && (b["catch_all"] && v.Reason == "catch_all" || b["risky_other"] && v.Reason != "catch_all") {
		return true
	}
	return b[v.Status]
}

func parseBucket(values []string) (bucket, error) {
	ok := map[string]bool{"deliverable": true, "risky": true, "undeliverable": true, "unknown": true, "catch_all": true, "risky_other": true}
	b := bucket{}
	for _, vs := range values {
		for v := range strings.SplitSeq(vs, ",") {
			if !ok[v] {
				return nil, errors.New("status must be deliverable, risky, catch_all, risky_other, undeliverable or unknown")
			}
			b[v] = true
		}
	}
	return b, nil
}

// download streams a job's file with the verdict columns appended, in
// the file's order, its separator and its cells as they were, as UTF-8
// with a byte-order mark (spreadsheets read that as UTF-8). With status,
// only the rows of those buckets are written (each address once when the
// job was deduplicated). A job
// made without a file is written as its entries, one a row.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	keep, err := parseBucket(r.URL.Query()["status"])
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "bad-request", err.Error())
		return
	}
	job, err := s.Bus.Get(r.Context(), owner(r), r.PathValue("id"))
	if err != nil {
		s.jobError(w, err)
		return
	}
	if job.Erased {
		writeProblem(w, http.StatusNotFound, "not-found", "the job's data was erased (DELETE)")
		return
	}
	d := &downloader{s: s, r: r, job: job, keep: keep, sep: ',', apply: r.URL.Query().Get("apply_suggestions") == "true"}
	if job.File != nil {
		err = d.file(w)
	} else {
		err = d.entries(w)
	}
	switch {
	case err == nil:
	case !d.started:
		s.jobError(w, err)
	default:
		// The status line is gone: cut the response short, so that the
		// client sees an error rather than a file that looks whole.
		logOrDiscard(s.Logger).Warn("api: download failed", "job", job.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// downloader writes one download.
type downloader struct {
	s    *Server
	r    *http.Request
	job  *jobs.Job
	keep bucket
	sep  rune
	// apply writes the suggested address in place of one whose domain
	// looks like a typo (the row is written anew).
	apply   bool
	out     *bufio.Writer
	started bool
}

func (d *downloader) start(w http.ResponseWriter) {
	name := "job-" + d.job.ID
	if d.job.File != nil {
		name = strings.TrimSuffix(d.job.File.Name, path.Ext(d.job.File.Name))
	}
	suffix := "-verified"
	if len(d.keep) > 0 {
		var names []string
		for k := range d.keep {
			names = append(names, k)
		}
		slices.Sort(names)
		suffix = "-" + strings.Join(names, "+")
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + suffix + ".csv"}))
	w.Header().Set("Cache-Control", "no-store")
	d.out = bufio.NewWriterSize(w, 64<<10)
	_, _ = d.out.WriteString("\ufeff")
	d.started = true
}

func (d *downloader) file(w http.ResponseWriter) error {
	f := d.job.File
	ctx := d.r.Context()
	src, err := d.s.Bus.OpenObject(ctx, f.Object)
	if err != nil {
		return err
	}
	defer src.Close()
	rowsSrc, err := d.s.Bus.OpenObject(ctx, f.Object+".rows")
	if err != nil {
		return err
	}
	defer rowsSrc.Close()
	rowMap := bufio.NewReader(rowsSrc)
	d.sep = map[string]rune{"comma": ',', "semicolon": ';', "tab": '\t', "pipe": '|'}[f.Separator]
	rd := csvsniff.NewReader(src, csvsniff.Format{Encoding: f.Encoding, Sep: d.sep, Lazy: f.LazyQuotes})
	d.start(w)
	width := 0
	var batch []row
	for first := true; ; first = false {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if first && f.Header {
			width = len(rec.Fields)
			d.writeRow(row{text: rec.Text, blank: rec.Blank, eol: rec.EOL, fields: len(rec.Fields), entry: -1}, width, verdictColumns)
			continue
		}
		entry, dup, err := readRow(rowMap)
		if err != nil {
			return err
		}
		rw := row{text: clone(rec.Text), blank: clone(rec.Blank), eol: clone(rec.EOL), fields: len(rec.Fields), entry: entry, dup: dup}
		if d.apply {
			rw.cells = slices.Clone(rec.Fields)
		}
		batch = append(batch, rw)
		if len(batch) == downloadBatch {
			if err := d.flush(batch, width); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := d.flush(batch, width); err != nil {
		return err
	}
	if len(d.keep) == 0 {
		_, _ = d.out.Write(rd.Rest())
	}
	return d.out.Flush()
}

// results fetches the results of entries, in one batched get (with
// Server.perRowGets, the benchmark's baseline, one get per entry).
func (d *downloader) results(entries []int) ([][]byte, error) {
	if d.s.perRowGets {
		return d.s.Bus.ResultsAt(d.r.Context(), d.job.ID, entries)
	}
	return d.s.Bus.ResultsBatch(d.r.Context(), d.job.ID, entries)
}

// A row is a data row waiting for its verdict.
type row struct {
	text, blank, eol []byte
	fields, entry    int
	dup              bool
	cells            []string // with apply only
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// flush fetches the verdicts of a batch of rows and writes the rows.
func (d *downloader) flush(batch []row, width int) error {
	var want []int
	for _, r := range batch {
		if r.entry >= 0 {
			want = append(want, r.entry)
		}
	}
	results, err := d.results(want)
	if err != nil {
		return err
	}
	i := 0
	for _, r := range batch {
		var v *verdict
		if r.entry >= 0 {
			if results[i] != nil {
				v = &verdict{}
				if json.Unmarshal(results[i], v) != nil {
					v = nil
				}
			}
			i++
		}
		if len(d.keep) > 0 && (r.dup && d.job.File.Dedupe || !d.keep.keeps(v)) {
			continue
		}
		if len(d.keep) > 0 {
			r.blank = nil
		}
		cells := v.cells(r.dup && v != nil)
		if col := d.job.File.ColumnIndex - 1; d.apply && cells[2] != "" && col < len(r.cells) {
			r.cells[col] = cells[2]
			r.text = d.record(r.cells)
		}
		d.writeRow(r, width, cells)
	}
	return nil
}

// writeRow writes a row's text, fills it to the header's width, and
// appends cells in the file's separator.
func (d *downloader) writeRow(r row, width int, cells []string) {
	_, _ = d.out.Write(r.blank)
	_, _ = d.out.Write(r.text)
	for range width - r.fields {
		d.out.WriteRune(d.sep)
	}
	for _, c := range cells {
		d.out.WriteRune(d.sep)
		d.out.WriteString(quote(c, d.sep))
	}
	eol := r.eol
	if len(eol) == 0 {
		eol = []byte("\r\n")
	}
	_, _ = d.out.Write(eol)
}

// record writes cells as a record in the file's separator.
func (d *downloader) record(cells []string) []byte {
	var b []byte
	for i, c := range cells {
		if i > 0 {
			b = utf8.AppendRune(b, d.sep)
		}
		b = append(b, quote(c, d.sep)...)
	}
	return b
}

// quote quotes a cell when it holds the separator, a quote or a line
// break.
func quote(c string, sep rune) string {
	if !strings.ContainsRune(c, sep) && !strings.ContainsAny(c, "\"\r\n") {
		return c
	}
	return `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
}

// entries writes a job made without a file: input and verdict, one entry
// a row, in the order given.
func (d *downloader) entries(w http.ResponseWriter) error {
	d.start(w)
	d.writeRow(row{text: []byte("input"), fields: 1, entry: -1}, 1, verdictColumns)
	var batch []row
	for i := range d.job.Total {
		batch = append(batch, row{entry: i, fields: 1, eol: []byte("\r\n")})
		if len(batch) == downloadBatch || i == d.job.Total-1 {
			if err := d.flushEntries(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return d.out.Flush()
}

func (d *downloader) flushEntries(batch []row) error {
	want := make([]int, len(batch))
	for i, r := range batch {
		want[i] = r.entry
	}
	results, err := d.results(want)
	if err != nil {
		return err
	}
	for i, r := range batch {
		var v *verdict
		if results[i] != nil {
			v = &verdict{}
			if json.Unmarshal(results[i], v) != nil {
				v = nil
			}
		}
		if !d.keep.keeps(v) {
			continue
		}
		input := ""
		if v != nil {
			input = v.Input
		}
		cells := v.cells(false)
		if d.apply && cells[2] != "" {
			input = cells[2]
		}
		r.text = []byte(quote(input, ','))
		d.writeRow(r, 1, cells)
	}
	return nil
}
