package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mailverify/mailverify/service/internal/web"
)

// browser starts headless Chromium for a test, or skips it when there is
// none (CI installs Debian's chromium and sets MAILVERIFY_REQUIRE_CHROMIUM
// so that a missing browser fails there).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("MAILVERIFY_CHROMIUM")
	if path == "" {
		path, _ = exec.LookPath("chromium")
	}
	if path == "" {
		if os.Getenv("MAILVERIFY_REQUIRE_CHROMIUM") != "" {
			t.Fatal("no chromium found; install Debian's chromium package")
		}
		t.Skip("no chromium on PATH (set MAILVERIFY_CHROMIUM); the browser tests need it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("lang", "en-US"),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// page runs browser steps, saving a screenshot of the page when one fails.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	get(p, step, chromedp.Steps(actions...))
}

// get runs one action for its value.
func get[T any](p page, step string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fail(step, err)
	}
	return v
}

func (p page) fail(step string, err error) {
	p.t.Helper()
	dir := os.Getenv("MAILVERIFY_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "mailverify-browser-artifacts")
	}
	_ = os.MkdirAll(dir, 0o755)
	sctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if png, serr := chromedp.Run(sctx, chromedp.FullScreenshot(100)); serr == nil {
		name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(p.t.Name()+"-"+step)+".png")
		if os.WriteFile(name, png, 0o644) == nil {
			p.t.Logf("screenshot of the failed step: %s", name)
		}
	}
	p.t.Fatalf("%s: %v", step, err)
}

// waitJS polls a JavaScript expression until it is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(50*time.Second))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}

func js[T any](expr string) chromedp.Action[T] { return chromedp.Evaluate[T](expr) }

func TestPageCleansAList(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler(); s.Verifier.Transcript = true })
	p := page{t, browser(t)}

	// Check one address: the badge, the reason, the conversation.
	p.do("check one",
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("one-addr")),
		chromedp.SendKeys(chromedp.ID("one-addr"), "jane@example.com"),
		chromedp.Click(chromedp.ID("one-go")),
		chromedp.WaitVisible(chromedp.ID("one-badge")),
	)
	badge := get(p, "badge", chromedp.Text(chromedp.ID("one-badge")))
	reason := get(p, "reason", chromedp.Text(chromedp.ID("one-reason")))
	convo := get(p, "conversation", js[bool](`(document.querySelector("#one-card details pre") || {textContent: ""}).textContent.includes("RCPT TO")`))
	if badge != "deliverable" || reason != "accepted" || !convo {
		t.Errorf("one address: badge %q, reason %q, conversation %v; want deliverable, accepted, a transcript", badge, reason, convo)
	}
	p.do("typo",
		chromedp.SetValue(chromedp.ID("one-addr"), "jane@gmial.com"),
		chromedp.Click(chromedp.ID("one-go")),
		chromedp.WaitVisible(chromedp.ID("one-suggest")),
	)
	if s := get(p, "suggestion", chromedp.Text(chromedp.ID("one-suggest"))); !strings.Contains(s, "jane@gmail.com") {
		t.Errorf("typo suggestion %q; want jane@gmail.com", s)
	}
	if flags := get(p, "typo flags", js[string](`(document.getElementById("one-flags") || {textContent: ""}).textContent`)); strings.Contains(flags, "disposable") {
		t.Errorf("a typo domain is also called disposable: %q", flags)
	}

	// Files it cannot use: a clear error, and no start.
	dir := t.TempDir()
	for name, content := range map[string]string{"report.pdf": "%PDF-1.7", "empty.csv": "name,email\nJane,\nBob,\n", "blank.txt": "\n\n"} {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		p.do("bad file "+name,
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{f}),
			waitJS(`!document.getElementById("error").hidden || !document.getElementById("check").hidden`),
		)
		msg := get(p, "error "+name, js[string](`document.getElementById("error").hidden ? document.getElementById("check").textContent : document.getElementById("error-text").textContent`))
		disabled := get(p, "start "+name, js[bool](`document.getElementById("start").disabled`))
		if msg == "" || !disabled {
			t.Errorf("%s: error %q, start disabled %v; want an error and no start", name, msg, disabled)
		}
		p.do("clear "+name, waitJS(`(document.getElementById("check").hidden = document.getElementById("error").hidden = true) || true`))
	}

	// Clean a list: a CSV whose address column is the second.
	var b strings.Builder
	b.WriteString("name,Email,city\r\n")
	addrs := []string{"jane@example.com", "bob@example.com", "nobody@example.com", "jane@other.com", "x@catchall.com", "not-an-address", "", "ghost@example.com"}
	n := 0
	for i := range 120 {
		a := addrs[i%len(addrs)]
		if a != "" {
			n++
		}
		fmt.Fprintf(&b, "Person %d,%s,\"Oslo, Norway\"\r\n", i, a)
	}
	file := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p.do("upload",
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}),
		chromedp.WaitVisible(chromedp.ID("setup")),
		waitJS(`!document.getElementById("start").disabled`),
	)
	column := get(p, "column", chromedp.Value(chromedp.ID("column")))
	info := get(p, "analysis", chromedp.Text(chromedp.ID("analysis")))
	if column != "1" || !strings.Contains(info, strconv.Itoa(n)+" values to check") {
		t.Errorf("column %q, analysis %q; want the Email column (1) and %d values to check", column, info, n)
	}
	// Duplicates are checked once by default: 105 addresses, 7 different.
	p.do("run the job",
		chromedp.Click(chromedp.ID("dedupe")), // off: every row is verified, as the API's results below count
		chromedp.Click(chromedp.ID("start")),
		waitJS(`document.getElementById("progress").getAttribute("aria-valuenow") === "100" && document.getElementById("progress-text").textContent.startsWith("Done")`),
		waitJS(`document.getElementById("start").disabled`),
	)
	jobID := get(p, "job id", js[string](`window.mailverify.run.job.id`))
	job := e.waitJob(jobID, 30*time.Second)
	if job.Total != n {
		t.Fatalf("job total %d; want %d", job.Total, n)
	}
	p.do("results loaded", waitJS(`window.mailverify.run.results.size === `+strconv.Itoa(n)))

	// The chart's totals are the API's counts.
	chartTotal := get(p, "chart total", js[string](`document.getElementById("chart-status").dataset.total`))
	bars := get(p, "bars", js[map[string]string](`Object.fromEntries([...document.querySelectorAll("#chart-status g")].map(g => [g.dataset.name, g.dataset.count]))`))
	if chartTotal != strconv.Itoa(n) {
		t.Errorf("chart total %s; want %d", chartTotal, n)
	}
	for _, st := range []string{"deliverable", "risky", "undeliverable", "unknown"} {
		if bars[st] != strconv.Itoa(job.Counts[st]) {
			t.Errorf("chart %s = %s; the API says %d", st, bars[st], job.Counts[st])
		}
	}
	if label := get(p, "chart label", js[string](`document.getElementById("chart-status").getAttribute("aria-label")`)); !strings.Contains(label, "deliverable "+strconv.Itoa(job.Counts["deliverable"])) {
		t.Errorf("the chart's label %q does not say its numbers", label)
	}

	// The table: paged, and filtered to one status it shows the API's count.
	if rows := get(p, "rows", js[int](`document.querySelectorAll("#results tbody tr").length`)); rows != 50 {
		t.Errorf("first page has %d rows; want 50", rows)
	}
	p.do("filter",
		chromedp.SetValue(chromedp.ID("f-status"), "undeliverable"),
		waitJS(`document.getElementById("f-status").dispatchEvent(new Event("change")) || true`),
	)
	pageInfo := get(p, "page info", chromedp.Text(chromedp.ID("page-info")))
	if want := fmt.Sprintf("(%d rows)", job.Counts["undeliverable"]); !strings.Contains(pageInfo, want) {
		t.Errorf("filtered to undeliverable: %q; want %s", pageInfo, want)
	}

	// The download is the original file with the API's verdicts appended.
	whole := p.download("dl-all")
	kept := p.download("dl-kept")
	api := map[int]string{}
	for _, r := range e.readAll(jobID, 1000) {
		api[r.Index] = r.Status.String()
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(whole, "\ufeff"))).ReadAll()
	if err != nil || len(recs) != 121 {
		t.Fatalf("the whole download: %d rows, %v; want header and 120 rows", len(recs), err)
	}
	if strings.Join(recs[0][:4], ",") != "name,Email,city,mv_status" || recs[5][2] != "Oslo, Norway" {
		t.Errorf("download header %q, row %q; want the original columns first", recs[0], recs[5])
	}
	idx := 0
	for i, rec := range recs[1:] {
		if rec[1] == "" {
			if rec[3] != "" {
				t.Errorf("row %d has no address but a verdict %q", i, rec[3])
			}
			continue
		}
		if rec[3] != api[idx] {
			t.Errorf("row %d (%s): %q in the download, %q from the API", i, rec[1], rec[3], api[idx])
		}
		idx++
	}
	keptRecs, _ := csv.NewReader(strings.NewReader(strings.TrimPrefix(kept, "\ufeff"))).ReadAll()
	for _, rec := range keptRecs[1:] {
		if rec[3] != "deliverable" && !(rec[3] == "risky" && rec[4] == "catch_all") {
			t.Errorf("kept row %q is neither deliverable nor catch-all", rec)
		}
	}
	if len(keptRecs)-1 != job.Counts["deliverable"]+job.Reasons["catch_all"] {
		t.Errorf("kept %d rows; want %d deliverable + %d catch-all", len(keptRecs)-1, job.Counts["deliverable"], job.Reasons["catch_all"])
	}

	// The jobs list names the file; a phone-wide window does not scroll sideways.
	p.do("jobs list",
		waitJS(`!!document.querySelector("#jobs tr[data-id='`+jobID+`']")`),
		chromedp.SetValue(chromedp.ID("f-status"), ""),
		waitJS(`document.getElementById("f-status").dispatchEvent(new Event("change")) || true`),
	)
	if row := get(p, "job row", chromedp.Text(chromedp.CSS("#jobs tr[data-id='"+jobID+"']"))); !strings.Contains(row, "list.csv") || !strings.Contains(row, "column Email") {
		t.Errorf("jobs list row %q; want the file name and column", row)
	}
	if shot := os.Getenv("MAILVERIFY_SCREENSHOT"); shot != "" {
		p.do("viewport", chromedp.EmulateViewport(1200, 900))
		png := get(p, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.do("phone", chromedp.EmulateViewport(375, 800), chromedp.Sleep(200*time.Millisecond))
	if get(p, "overflow", js[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("the page scrolls sideways at 375 px")
	}

	// The server goes away: a clear error, not a blank page.
	e.srv.Close()
	p.do("server gone",
		chromedp.SetValue(chromedp.ID("one-addr"), "jane@example.com"),
		chromedp.Click(chromedp.ID("one-go")),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if banner := get(p, "banner", chromedp.Text(chromedp.ID("error-text"))); !strings.Contains(banner, "cannot be reached") {
		t.Errorf("error banner %q; want it to say the server cannot be reached", banner)
	}
}

// download clicks a download button and returns the file's text.
func (p page) download(button string) string {
	p.t.Helper()
	p.do("download "+button,
		waitJS(`(window.mailverify.last.download = null) || true`),
		chromedp.Click(chromedp.ID(button)),
		waitJS(`!!window.mailverify.last.download`),
	)
	return get(p, "download text "+button, js[string](`window.mailverify.last.download.text`))
}

func TestPageAsksForTheToken(t *testing.T) {
	tokens, err := ReadTokens(strings.NewReader("page-token-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(s *Server) { s.Web = web.Handler(); s.Tokens = tokens })
	p := page{t, browser(t)}
	p.do("token",
		chromedp.Navigate(e.srv.URL+"/"),
		waitJS(`document.getElementById("token-dialog").open`),
		chromedp.SendKeys(chromedp.ID("token"), "page-token-0123456789"),
		chromedp.Click(chromedp.CSS("#token-form button")),
		waitJS(`!document.getElementById("token-dialog").open`),
		chromedp.SendKeys(chromedp.ID("one-addr"), "jane@example.com"),
		chromedp.Click(chromedp.ID("one-go")),
		chromedp.WaitVisible(chromedp.ID("one-badge")),
	)
	if badge := get(p, "badge", chromedp.Text(chromedp.ID("one-badge"))); badge != "deliverable" {
		t.Errorf("after giving the token: badge %q; want deliverable", badge)
	}
	if get(p, "error", js[bool](`!document.getElementById("error").hidden`)) {
		t.Error("an error is shown after the token was given")
	}
}
