package api

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/service/internal/web"
	"golang.org/x/text/encoding/charmap"
)

// writeFile writes a test's list file and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func utf16LE(s string) []byte {
	b := []byte{0xFF, 0xFE}
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// pick chooses a file in the page and waits for its preview.
func (p page) pick(file string) {
	p.t.Helper()
	p.do("pick "+filepath.Base(file),
		waitJS(`(document.getElementById("setup").hidden = true) || true`),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}),
		waitJS(`!document.getElementById("setup").hidden || !document.getElementById("error").hidden`),
	)
}

func (p page) text(id string) string {
	p.t.Helper()
	return get(p, "text of "+id, js[string](`document.getElementById("`+id+`").textContent`))
}

// TestPageReadsRealFiles picks the files list cleaners have and checks
// what the page makes of them before anything is sent.
func TestPageReadsRealFiles(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	cp1252, err := charmap.Windows1252.NewEncoder().Bytes([]byte("Vorname;Nachname;E-Mail;Firma\r\nRenée;Müller;jane@example.com;\"ACME; GmbH\"\r\nJörg;Öz;bob@example.com;X\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		data     []byte
		format   string // the start of the format line
		header   bool
		column   string // the chosen column's label
		analysis string // in the analysis line
		start    bool
		check    string // in the refusal
		cell     string // in the preview's address column
	}{
		{"kunden.csv", cp1252, "Semicolon-separated, Windows-1252", true, "E-Mail", "2 values to check", true, "", "jane@example.com"},
		{"utf16.txt", utf16LE("name\temail\r\nRenée\tjane@example.com\r\n"), "Tab-separated, UTF-16", true, "email", "1 value to check", true, "", "jane@example.com"},
		{"noheader.csv", []byte("Jane,jane@example.com\nBob,bob@example.com\n"), "Comma-separated, UTF-8", false, "column 2", "2 values to check", true, "", "jane@example.com"},
		{"names.csv", []byte("first,last,city\nJane,Doe,Oslo\nBob,Roe,Bergen\n"), "Comma-separated", true, "first", "2 cannot be an address", false, "does not hold addresses: 0 of its first 2 values have an @", "Jane"},
		{"bom.csv", append([]byte{0xEF, 0xBB, 0xBF}, "Name,Email\r\nJane,jane@example.com\r\nBob,bob@example.com\r\n"...), "Comma-separated, UTF-8 with a byte-order mark", true, "Email", "2 values to check", true, "", "jane@example.com"},
		{"dups.csv", []byte("email\njane@example.com\nJANE@example.com\nbob@example.com\njane@example.com\n"), "Comma", true, "email", "4 values to check (2 different)", true, "", "jane@example.com"},
		{"names-and-links.csv", []byte("contact\nJane Doe <jane@example.com>\nmailto:bob@example.com?subject=Hi\n"), "Comma", true, "contact", "2 values to check (2 different) at 1 domain.", true, "", "Jane Doe <jane@example.com>"},
	}
	for _, c := range cases {
		p.pick(writeFile(t, c.name, c.data))
		format, analysis, check := p.text("format"), p.text("analysis"), p.text("check")
		header := get(p, "header", js[bool](`document.getElementById("header").checked`))
		column := get(p, "column", js[string](`document.getElementById("column").selectedOptions[0].textContent`))
		start := get(p, "start", js[bool](`!document.getElementById("start").disabled`))
		cell := get(p, "preview cell", js[string](`(document.querySelector("#preview tbody td.chosen") || {textContent: ""}).textContent`))
		if !strings.HasPrefix(format, c.format) || header != c.header || column != c.column || !strings.Contains(analysis, c.analysis) ||
			start != c.start || c.check != "" && !strings.Contains(check, c.check) || cell != c.cell {
			t.Errorf("%s: format %q, header %v, column %q, analysis %q, start %v, check %q, cell %q;\nwant %q, %v, %q, %q, %v, %q, %q",
				c.name, format, header, column, analysis, start, check, cell, c.format, c.header, c.column, c.analysis, c.start, c.check, c.cell)
		}
		if d := p.text("dupes"); c.name == "dups.csv" && !strings.Contains(d, "2 duplicates") {
			t.Errorf("duplicates line %q; want 2 duplicates", d)
		}
	}

	// The header switch: a file without a header read as one loses its
	// first address; switched off, the page counts it and the server
	// verifies it.
	p.pick(writeFile(t, "switch.csv", []byte("jane@example.com\nbob@example.com\nnobody@example.com\n")))
	p.do("header on", chromedp.Click(chromedp.ID("header")), waitJS(`document.getElementById("header").checked`))
	if a := p.text("analysis"); !strings.Contains(a, "2 values to check") {
		t.Errorf("with a header: %q; want 2 values to check", a)
	}
	p.do("header off and start", chromedp.Click(chromedp.ID("header")), waitJS(`!document.getElementById("header").checked`),
		chromedp.Click(chromedp.ID("start")), waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`))
	if total := get(p, "total", js[int](`window.mailverify.run.job.total`)); total != 3 {
		t.Errorf("job of a file without a header: %d addresses; want 3", total)
	}

	// The Windows-1252 file runs and comes back as UTF-8 with its cells.
	p.pick(writeFile(t, "kunden.csv", cp1252))
	p.do("run kunden", chromedp.Click(chromedp.ID("start")), waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`))
	got := p.download("dl-all")
	want := "Vorname;Nachname;E-Mail;Firma;mv_status;"
	if !strings.HasPrefix(strings.TrimPrefix(got, "\ufeff"), want) || !strings.Contains(got, "Renée;Müller;jane@example.com;\"ACME; GmbH\";deliverable;") {
		t.Errorf("download of the Windows-1252 file:\n%s\nwant its cells in UTF-8 with the verdicts", got)
	}
	if b := get(p, "bom", js[[]int](`Array.from(window.mailverify.last.download.bytes.slice(0, 3))`)); len(b) != 3 || b[0] != 0xEF || b[1] != 0xBB || b[2] != 0xBF {
		t.Errorf("the download starts %v; want a UTF-8 byte-order mark", b)
	}
}

// TestPageReloadMidJob reloads the page while a job runs: the page
// follows it again, and the jobs list's download is the original file,
// cell by cell, with the verdicts of the API.
func TestPageReloadMidJob(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	p := page{t, browser(t)}
	var b strings.Builder
	b.WriteString("id;name;email;note\r\n")
	addrs := []string{"jane@example.com", "bob@example.com", "nobody@example.com", "x@catchall.com", "not-an-address", ""}
	for i := range 300 {
		a := addrs[i%len(addrs)]
		if i%50 == 7 {
			a = fmt.Sprintf("late%d@slow.com", i) // a slow server keeps the job running
		}
		fmt.Fprintf(&b, "%d;Person %d;%s;\"a; b\"\r\n", i, i, a)
	}
	orig := b.String()
	file := writeFile(t, "crm.csv", []byte(orig))
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	p.pick(file)
	p.do("start", chromedp.Click(chromedp.ID("start")), waitJS(`!!window.mailverify.run.job`))
	info := p.text("upload-info")
	jobID := get(p, "job id", js[string](`window.mailverify.run.job.id`))
	job := e.waitJobState(jobID)
	if job.Done >= job.Total {
		t.Fatalf("the job ended before the reload (%d of %d)", job.Done, job.Total)
	}
	// Dedupe is on by default: 5 different addresses repeat.
	if job.File == nil || !job.File.Dedupe || job.File.Duplicates == 0 || !strings.Contains(info, strconv.Itoa(job.File.Duplicates)+" duplicates skipped") {
		t.Errorf("file %+v, upload line %q; want duplicates skipped and said", job.File, info)
	}
	p.do("reload", chromedp.Reload())
	p.do("after the reload", chromedp.Sleep(300*time.Millisecond), waitJS(`document.readyState === "complete" && !document.getElementById("progress-box").hidden`),
		waitJS(`window.mailverify.run.job && window.mailverify.run.job.id === "`+jobID+`"`),
		waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`),
		waitJS(`!!document.querySelector("#jobs tr[data-id='`+jobID+`'] button[aria-label='File with verdicts: download crm.csv']")`),
		waitJS(`(window.mailverify.last.download = null) || true`),
		// The list is redrawn as jobs change: click the button there is now.
		waitJS(`document.querySelector("#jobs tr[data-id='`+jobID+`'] button[aria-label='File with verdicts: download crm.csv']").click() || true`),
		waitJS(`!!window.mailverify.last.download`),
	)
	got := get(p, "download", js[string](`window.mailverify.last.download.text`))
	status := map[string]string{}
	for _, r := range e.readAll(jobID, 1000) {
		status[r.Input] = r.Status.String()
	}
	read := func(s string) [][]string {
		cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(s, "\ufeff")))
		cr.Comma, cr.FieldsPerRecord = ';', -1
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	want, have := read(orig), read(got)
	if len(have) != len(want) {
		t.Fatalf("download has %d records; the file %d", len(have), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if have[i][j] != want[i][j] {
				t.Errorf("record %d cell %d: %q; the file has %q", i, j, have[i][j], want[i][j])
			}
		}
		if i == 0 || want[i][2] == "" {
			continue
		}
		if st := have[i][len(want[i])]; st != status[strings.ToLower(want[i][2])] && st != status[want[i][2]] {
			t.Errorf("record %d (%s): %q in the download; the API says %q", i, want[i][2], st, status[want[i][2]])
		}
	}
}

// waitJobState returns a job once it runs with some results, or ends.
func (e *env) waitJobState(id string) jobs.Job {
	e.t.Helper()
	for range 500 {
		j := e.getJob(id)
		if j.Done > 0 || j.State == "done" || j.State == "canceled" {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("job %s never started", id)
	return jobs.Job{}
}

func (e *env) getJob(id string) jobs.Job {
	e.t.Helper()
	resp, body := e.do("GET", "/v1/jobs/"+id, "", "")
	var j jobs.Job
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &j) != nil {
		e.t.Fatalf("GET job: %d %s", resp.StatusCode, body)
	}
	return j
}

// TestPageLargeFile picks a CRM export of 100,000 rows with duplicates:
// the page reads it at once, says what it holds, uploads it, and the
// server streams the file back with verdicts from the first rows on.
func TestPageLargeFile(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	p := page{t, browser(t)}
	const rows = 100000
	var b strings.Builder
	b.WriteString("Id,First name,Last name,Email,Company\r\n")
	dups := 0
	for i := range rows {
		a := i
		if i%14 == 13 {
			a, dups = i-7, dups+1 // a repeat of an earlier row
		}
		fmt.Fprintf(&b, "%d,Person,Number %d,user%d@example.com,\"ACME, Inc.\"\r\n", i, i, a)
	}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	began := time.Now()
	p.pick(writeFile(t, "crm-export.csv", []byte(b.String())))
	read := time.Since(began)
	analysis, dupLine := p.text("analysis"), p.text("dupes")
	if !strings.Contains(analysis, "100,000 rows, 100,000 values to check ("+thousands(rows-dups)+" different) at 1 domain.") || !strings.Contains(dupLine, thousands(dups)+" duplicates") {
		t.Errorf("analysis %q, %q; want 100,000 rows and %d duplicates", analysis, dupLine, dups)
	}
	t.Logf("the page read %d rows in %v", rows, read)
	if read > 20*time.Second {
		t.Errorf("reading %d rows took %v", rows, read)
	}
	p.do("start", chromedp.Click(chromedp.ID("start")), waitJS(`!!window.mailverify.run.job`))
	id := get(p, "job", js[string](`window.mailverify.run.job.id`))
	p.do("cancel", chromedp.Click(chromedp.ID("cancel")))
	if info := p.text("upload-info"); info != "Uploaded; "+thousands(rows-dups)+" addresses to check, "+thousands(dups)+" duplicates skipped." {
		t.Errorf("upload line %q", info)
	}
	job := e.getJob(id)
	if job.Total != rows-dups || job.File.Rows != rows || job.File.Duplicates != dups || job.File.Size != int64(b.Len()) {
		t.Errorf("job total %d, file %+v; want %d addresses of %d rows, %d duplicates, %d bytes", job.Total, job.File, rows-dups, rows, dups, b.Len())
	}
	// The first rows of the download come before the rest is read.
	began = time.Now()
	resp, err := http.Get(e.srv.URL + "/v1/jobs/" + id + "/file")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	want := strings.SplitN(b.String(), "\r\n", 1002)
	for i := range 1001 {
		if !sc.Scan() {
			t.Fatalf("the download ended at line %d: %v", i, sc.Err())
		}
		if line := strings.TrimPrefix(sc.Text(), "\ufeff"); !strings.HasPrefix(line, want[i]+",") {
			t.Fatalf("line %d: %q; want the file's %q and the verdicts", i, line, want[i])
		}
	}
	t.Logf("the first 1,000 rows of the download came in %v", time.Since(began))
}

// thousands writes n as the page does in English: 92,858.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestPageAgainAndDelete verifies a finished job's unknown addresses
// again as a job of their own, then deletes a job from the jobs list.
func TestPageAgainAndDelete(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	e.w.Route("blocked.com", e.w.Server(&testsmtp.Server{Banner: testsmtp.Reply{Code: 554, Lines: []string{"no service for you"}}}))
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	p.pick(writeFile(t, "mixed.csv", []byte("name,email\nJane,jane@example.com\nBlocked,x@blocked.com\nOther,y@blocked.com\n")))
	p.do("run", chromedp.Click(chromedp.ID("start")), waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`))
	first := get(p, "first job", js[string](`window.mailverify.run.job.id`))
	if j := e.getJob(first); j.Counts["unknown"] != 2 {
		t.Fatalf("counts %v; want 2 unknown (the test needs them)", j.Counts)
	}
	p.do("again", waitJS(`!document.getElementById("again").hidden`), chromedp.Click(chromedp.ID("again")),
		waitJS(`window.mailverify.run.job.id !== "`+first+`"`),
		waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`))
	second := e.getJob(get(p, "second job", js[string](`window.mailverify.run.job.id`)))
	if second.Total != 2 || second.File == nil || second.File.Name != "mixed-unknowns.csv" || second.File.Column != "email" {
		t.Errorf("the second job: total %d, file %+v; want the 2 unknown addresses of mixed-unknowns.csv, column email", second.Total, second.File)
	}
	// Show brings the first job back into view from the jobs list.
	p.do("show", waitJS(`document.querySelector("#jobs tr[data-id='`+first+`'] button[aria-label^='Show']").click() || true`),
		waitJS(`window.mailverify.run.job.id === "`+first+`" && document.getElementById("progress-text").textContent === "Done: 3 addresses checked."`),
		waitJS(`window.mailverify.run.results.size === 3`))
	if info := p.text("upload-info"); info != "Showing mixed.csv." {
		t.Errorf("after Show: %q", info)
	}
	sel := `#jobs tr[data-id='` + first + `'] button[aria-label^='Delete']`
	p.do("delete", waitJS(`!!document.querySelector("`+sel+`")`),
		waitJS(`document.querySelector("`+sel+`").click() || true`),
		waitJS(`document.querySelector("#jobs tr[data-id='`+first+`'] button.danger").textContent === "Really delete?"`),
		waitJS(`document.querySelector("#jobs tr[data-id='`+first+`'] button.danger").click() || true`),
		waitJS(`!document.querySelector("#jobs tr[data-id='`+first+`']")`))
	resp, body := e.do("GET", "/v1/jobs/"+first, "", "")
	e.problemOf(resp, body, http.StatusNotFound)
}

// TestPageWorkbook picks an .xlsx workbook: the server reads it.
func TestPageWorkbook(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	p.pick(writeFile(t, "kunden.xlsx", workbookFile(t, [][]any{{"Name", "E-Mail"}, {"Renée", "jane@example.com"}, {"Bob", "nobody@example.com"}})))
	if f := p.text("format"); !strings.HasPrefix(f, "Excel workbook") {
		t.Errorf("format line %q", f)
	}
	p.do("run", chromedp.Click(chromedp.ID("start")), waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`))
	if info := p.text("upload-info"); info != "Uploaded; 2 addresses to check, from column E-Mail of sheet Sheet1." {
		t.Errorf("upload line %q", info)
	}
	if got := p.download("dl-all"); !strings.Contains(got, "Renée,jane@example.com,deliverable,accepted,") {
		t.Errorf("the workbook's download:\n%s", got)
	}
}
