package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

// postList uploads a file to /v1/lists and returns the job.
func (e *env) postList(query string, data []byte) jobs.Job {
	e.t.Helper()
	resp, body := e.do("POST", "/v1/lists?"+query, "text/csv", string(data))
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("POST /v1/lists?%s: %d %s", query, resp.StatusCode, body)
	}
	var j jobs.Job
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		e.t.Fatal(err)
	}
	return j
}

// readCSV reads a download: UTF-8 with a byte-order mark, sep between
// cells.
func readCSV(t *testing.T, body string, sep rune) [][]string {
	t.Helper()
	if !strings.HasPrefix(body, "\ufeff") {
		t.Fatalf("the download does not start with a byte-order mark: %q", body[:min(20, len(body))])
	}
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff")))
	cr.Comma, cr.FieldsPerRecord = sep, -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("the download is not CSV: %v", err)
	}
	return recs
}

func TestListSemicolonsWindows1252(t *testing.T) {
	e := newEnv(t, nil)
	text := "Vorname;Nachname;E-Mail;Firma\r\n" +
		"Renée;Müller;jane@example.com;\"ACME; GmbH\"\r\n" +
		"Jörg;Öz;Jörg Öz <nobody@example.com>;X\r\n" +
		"\r\n" +
		"Zoë;Ab;mailto:bob@example.com?subject=Hi;\r\n" +
		"Ann;Lee;;leer\r\n"
	data, err := charmap.Windows1252.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	job := e.postList("name=kunden.csv", data)
	f := job.File
	if f == nil || f.Name != "kunden.csv" || f.Column != "E-Mail" || f.ColumnIndex != 3 || f.Separator != "semicolon" ||
		f.Encoding != "windows-1252" || !f.Header || f.Rows != 4 || f.Size != int64(len(data)) || job.Total != 3 {
		t.Fatalf("job %+v file %+v; want kunden.csv, E-Mail (3), semicolon, windows-1252, header, 4 rows, 3 addresses", job, f)
	}
	e.waitJob(job.ID, 30*time.Second)
	resp, body := e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "kunden-verified.csv") {
		t.Fatalf("download: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	// The cells are the file's, decoded, as they were written.
	lines := strings.Split(strings.TrimPrefix(body, "\ufeff"), "\r\n")
	orig := strings.Split(text, "\r\n")
	if len(lines) != len(orig) {
		t.Fatalf("download has %d lines; want %d:\n%s", len(lines), len(orig), body)
	}
	for i, l := range orig {
		if !strings.HasPrefix(lines[i], l) {
			t.Errorf("line %d: %q; want it to start with the original %q", i, lines[i], l)
		}
	}
	recs := readCSV(t, body, ';')
	want := map[int][2]string{1: {"deliverable", "false"}, 2: {"undeliverable", "false"}, 3: {"deliverable", "false"}, 4: {"", ""}}
	if strings.Join(recs[0][4:6], ",") != "mv_status,mv_reason" {
		t.Errorf("header %q; want the verdict columns after the file's", recs[0])
	}
	for i, w := range want {
		if got := recs[i][4]; got != w[0] || recs[i][11] != w[1] {
			t.Errorf("row %d %q: status %q duplicate %q; want %q %q", i, recs[i], got, recs[i][11], w[0], w[1])
		}
	}
}

func TestListEncodingsAndHeaders(t *testing.T) {
	e := newEnv(t, nil)
	utf16 := func(s string) []byte {
		b := []byte{0xFF, 0xFE}
		for _, r := range s {
			b = append(b, byte(r), byte(r>>8))
		}
		return b
	}
	cases := []struct {
		name, query string
		data        []byte
		header      bool
		sep, enc    string
		total, col  int
	}{
		{"utf16.txt", "", utf16("name\temail\nRenée\tjane@example.com\nBob\tbob@example.com\n"), true, "tab", "utf-16le", 2, 2},
		{"bom.csv", "", append([]byte{0xEF, 0xBB, 0xBF}, "email,name\r\njane@example.com,Jane\r\n"...), true, "comma", "utf-8-bom", 1, 1},
		{"noheader.csv", "", []byte("Jane,jane@example.com\nBob,bob@example.com\n"), false, "comma", "utf-8", 2, 2},
		{"switch.csv", "header=false&column=1", []byte("jane@example.com\nbob@example.com\n"), false, "comma", "utf-8", 2, 1},
		{"lines.txt", "", []byte("jane@example.com\nbob@example.com\nx@catchall.com"), false, "comma", "utf-8", 3, 1},
	}
	for _, c := range cases {
		job := e.postList("name="+c.name+"&"+c.query, c.data)
		f := job.File
		if f.Header != c.header || f.Separator != c.sep || f.Encoding != c.enc || job.Total != c.total || f.ColumnIndex != c.col {
			t.Errorf("%s: file %+v, total %d; want header %v, %s, %s, %d addresses in column %d", c.name, f, job.Total, c.header, c.sep, c.enc, c.total, c.col)
		}
	}
}

func TestListRefusesAColumnWithoutAddresses(t *testing.T) {
	e := newEnv(t, nil)
	before := e.jobCount()
	resp, body := e.do("POST", "/v1/lists?name=names.csv", "text/csv", "first,last,city\nJane,Doe,Oslo\nBob,Roe,Bergen\n")
	if d := e.problemOf(resp, body, http.StatusUnprocessableEntity); !strings.Contains(d, "have an @") {
		t.Errorf("detail %q; want it to say the values have no @", d)
	}
	resp, body = e.do("POST", "/v1/lists?name=x.csv&column=first", "text/csv", "first,email\nJane,jane@example.com\nBob,bob@example.com\n")
	if d := e.problemOf(resp, body, http.StatusUnprocessableEntity); !strings.Contains(d, `"first" does not hold addresses`) {
		t.Errorf("chosen name column: %q; want a refusal naming it", d)
	}
	for _, q := range []string{"dedupe=maybe", "separator=colon", "header=yes", "encoding=latin9"} {
		resp, body = e.do("POST", "/v1/lists?"+q, "text/csv", "email\njane@example.com\n")
		e.problemOf(resp, body, http.StatusBadRequest)
	}
	resp, body = e.do("POST", "/v1/lists", "text/csv", "")
	e.problemOf(resp, body, http.StatusUnprocessableEntity)
	if n := e.jobCount(); n != before {
		t.Errorf("%d jobs after refusals; want %d", n, before)
	}
	small := newEnv(t, func(s *Server) { s.MaxBody = 100 })
	resp, body = small.do("POST", "/v1/lists", "text/csv", "email\n"+strings.Repeat("jane@example.com\n", 20))
	small.problemOf(resp, body, http.StatusRequestEntityTooLarge)
}

func TestListDedupeBucketsAndDelete(t *testing.T) {
	e := newEnv(t, nil)
	var b strings.Builder
	b.WriteString("name,email\n")
	addrs := []string{"jane@example.com", "bob@example.com", "JANE@example.com", "nobody@example.com", "bob@example.com", "x@catchall.com"}
	for i, a := range addrs {
		fmt.Fprintf(&b, "P%d,%s\n", i, a)
	}
	fmt.Fprintf(&b, "Long,%s@example.com\n", strings.Repeat("a", 2000))
	job := e.postList("name=dups.csv&dedupe=true", []byte(b.String()))
	if job.Total != 5 || job.File.Duplicates != 2 || !job.File.Dedupe || job.File.Rows != 7 {
		t.Fatalf("total %d, file %+v; want 5 addresses verified, 2 duplicates, 7 rows", job.Total, job.File)
	}
	e.waitJob(job.ID, 30*time.Second)
	_, body := e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	recs := readCSV(t, body, ',')
	if len(recs) != 8 {
		t.Fatalf("whole file: %d records; want 8", len(recs))
	}
	// A duplicate takes the first one's verdict and says it is one.
	if recs[3][2] != recs[1][2] || recs[3][9] != "true" || recs[1][9] != "false" {
		t.Errorf("duplicate row %q, first %q; want the same verdict, marked duplicate", recs[3], recs[1])
	}
	if recs[7][2] != "undeliverable" || recs[7][3] != "invalid_syntax" {
		t.Errorf("overlong row: %q %q; want undeliverable invalid_syntax", recs[7][2], recs[7][3])
	}
	_, body = e.do("GET", "/v1/jobs/"+job.ID+"/file?status=deliverable", "", "")
	recs = readCSV(t, body, ',')
	if len(recs) != 3 || recs[1][1] != "jane@example.com" || recs[2][1] != "bob@example.com" {
		t.Errorf("deliverable bucket %q; want the header, jane and bob once each", recs)
	}
	_, body = e.do("GET", "/v1/jobs/"+job.ID+"/file?status=catch_all,undeliverable", "", "")
	if recs = readCSV(t, body, ','); len(recs) != 4 {
		t.Errorf("catch-all and undeliverable buckets %q; want the header and 3 rows", recs)
	}
	resp, body := e.do("GET", "/v1/jobs/"+job.ID+"/file?status=gone", "", "")
	e.problemOf(resp, body, http.StatusBadRequest)

	resp, body = e.do("DELETE", "/v1/jobs/"+job.ID+"/data", "", "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/v1/jobs/"+job.ID, "", "")
	e.problemOf(resp, body, http.StatusNotFound)
	resp, body = e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	e.problemOf(resp, body, http.StatusNotFound)
	resp, body = e.do("DELETE", "/v1/jobs/"+job.ID+"/data", "", "")
	e.problemOf(resp, body, http.StatusNotFound)
	if _, err := e.bus.OpenObject(t.Context(), job.File.Object); err == nil {
		t.Error("the upload is still stored after delete")
	}
}

func TestDownloadOfAJobWithoutAFile(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("POST", "/v1/jobs", "text/plain", "nobody@example.com\njane@example.com\nnot-an-address\n")
	var job jobs.Job
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(body), &job) != nil {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	e.waitJob(job.ID, 30*time.Second)
	_, body = e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	recs := readCSV(t, body, ',')
	got := ""
	for _, r := range recs[1:] {
		got += r[0] + "=" + r[1] + " "
	}
	if want := "nobody@example.com=undeliverable jane@example.com=deliverable not-an-address=undeliverable "; got != want {
		t.Errorf("entries in order: %q; want %q", got, want)
	}
	if !bytes.Equal([]byte(recs[0][0]), []byte("input")) {
		t.Errorf("header %q", recs[0])
	}
}

func TestDownloadAppliesSuggestions(t *testing.T) {
	e := newEnv(t, nil)
	job := e.postList("name=typos.csv", []byte("name;email;note\nJane;Jane Doe <jane@gmial.com>;\"x; y\"\nBob;bob@example.com;\"x; y\"\n"))
	e.waitJob(job.ID, 30*time.Second)
	_, body := e.do("GET", "/v1/jobs/"+job.ID+"/file?apply_suggestions=true", "", "")
	lines := strings.Split(strings.TrimPrefix(body, "\ufeff"), "\n")
	if !strings.HasPrefix(lines[1], `Jane;jane@gmail.com;"x; y";risky;possible_typo;jane@gmail.com;`) || !strings.HasPrefix(lines[2], `Bob;bob@example.com;"x; y";deliverable;`) {
		t.Errorf("with suggestions applied:\n%s", body)
	}
	_, body = e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	if !strings.Contains(body, "Jane;Jane Doe <jane@gmial.com>;") {
		t.Errorf("without: the cell changed:\n%s", body)
	}
}

// workbookFile makes an .xlsx workbook whose first sheet holds rows.
func workbookFile(t *testing.T, rows [][]any) []byte {
	t.Helper()
	wb := excelize.NewFile()
	defer wb.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := wb.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestListWorkbook(t *testing.T) {
	e := newEnv(t, nil)
	data := workbookFile(t, [][]any{{"Name", "E-Mail", "Umsatz"}, {"Renée", "jane@example.com", 12.5}, {"Bob", "nobody@example.com", 3}})
	job := e.postList("name=kunden.xlsx", data)
	if f := job.File; f == nil || f.Sheet != "Sheet1" || f.Column != "E-Mail" || f.Rows != 2 || f.Size != int64(len(data)) || job.Total != 2 {
		t.Fatalf("job %+v file %+v; want 2 addresses of Sheet1's E-Mail column", job, job.File)
	}
	e.waitJob(job.ID, 30*time.Second)
	resp, body := e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	recs := readCSV(t, body, ',')
	if len(recs) != 3 || recs[1][0] != "Renée" || recs[1][2] != "12.5" || recs[1][3] != "deliverable" || recs[2][3] != "undeliverable" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "kunden-verified.csv") {
		t.Errorf("download of the workbook: %q", recs)
	}
	resp, body = e.do("POST", "/v1/lists?name=broken.xlsx", "application/octet-stream", "PK\x03\x04 not really a zip")
	if d := e.problemOf(resp, body, http.StatusUnprocessableEntity); !strings.Contains(d, "not an Excel workbook") {
		t.Errorf("a broken workbook: %q", d)
	}
}

// TestCancelErasesTheFile: DELETE /v1/jobs/ID erases a job's data, and a
// list's stored upload is part of it (personal data): it is gone, and the
// download says so instead of serving it until the retention ends.
func TestCancelErasesTheFile(t *testing.T) {
	e := newEnv(t, nil)
	job := e.postList("name=erase.csv", []byte("email\njane@example.com\nbob@example.com\n"))
	e.waitJob(job.ID, 30*time.Second)
	if _, err := e.bus.OpenObject(t.Context(), job.File.Object); err != nil {
		t.Fatalf("the upload is not stored: %v", err)
	}
	resp, body := e.do("DELETE", "/v1/jobs/"+job.ID, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.StatusCode, body)
	}
	if _, err := e.bus.OpenObject(t.Context(), job.File.Object); err == nil {
		t.Error("the upload is still stored after the job was erased")
	}
	resp, body = e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	e.problemOf(resp, body, http.StatusNotFound)
}

// TestStopKeepsTheResults: POST /v1/jobs/ID/cancel stops a job and keeps
// what it has, unlike DELETE, which erases it.
func TestStopKeepsTheResults(t *testing.T) {
	e := newEnv(t, nil)
	job := e.postList("name=stop.csv", []byte("email\njane@example.com\n"))
	e.waitJob(job.ID, 30*time.Second)
	resp, body := e.do("POST", "/v1/jobs/"+job.ID+"/cancel", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stop: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/v1/jobs/"+job.ID+"/file", "", "")
	if recs := readCSV(t, body, ','); resp.StatusCode != http.StatusOK || len(recs) != 2 || recs[1][1] != "deliverable" {
		t.Fatalf("download after stop: %d %q; want the file with its verdict", resp.StatusCode, recs)
	}
	if _, err := e.bus.OpenObject(t.Context(), job.File.Object); err != nil {
		t.Errorf("the upload is gone after a stop: %v", err)
	}
}
