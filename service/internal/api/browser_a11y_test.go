package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/mailverify/mailverify/service/internal/web"
)

// axe runs axe-core (vendored in testdata/axe by its vendor.sh) on the
// page as it is and fails the test for each violation.
func (p page) axe(state string) {
	p.t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		p.t.Fatalf("axe-core is not vendored (run testdata/axe/vendor.sh): %v", err)
	}
	get(p, "load axe", js[bool](string(src)+";true"))
	out := get(p, "axe "+state, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))))`, chromedp.EvalAwaitPromise))
	var vs []struct {
		ID, Help string
		Nodes    []string
	}
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		p.t.Fatalf("axe %s: %v", state, err)
	}
	for _, v := range vs {
		p.t.Errorf("axe, %s: %s (%s) at %v", state, v.ID, v.Help, v.Nodes)
	}
}

// contrast is WCAG's contrast ratio of two CSS rgb() colours.
func contrast(t *testing.T, a, b string) float64 {
	t.Helper()
	lum := func(c string) float64 {
		var r, g, bl float64
		if _, err := fmt.Sscanf(strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(c, "rgba("), "rgb("), ",", " "), "%f %f %f", &r, &g, &bl); err != nil {
			t.Fatalf("colour %q: %v", c, err)
		}
		ch := func(v float64) float64 {
			v /= 255
			if v <= 0.04045 {
				return v / 12.92
			}
			return math.Pow((v+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(r) + 0.7152*ch(g) + 0.0722*ch(bl)
	}
	la, lb := lum(a), lum(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// TestPageAccessibility runs axe-core on the page's states, checks the
// contrast of the focus ring and of input borders against WCAG 1.4.11's
// 3:1, and takes the screenshots at 1440 and 375 px wide when
// MAILVERIFY_SCREENSHOTS names a directory.
func TestPageAccessibility(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	p.axe("empty page")

	bg := get(p, "background", js[string](`getComputedStyle(document.body).backgroundColor`))
	if bg == "rgba(0, 0, 0, 0)" {
		bg = "rgb(255, 255, 255)"
	}
	p.do("focus the input", chromedp.Click(chromedp.ID("one-addr")))
	ring := get(p, "ring", js[[]string](`(s => [s.outlineStyle, s.outlineColor, s.outlineWidth, s.borderTopColor])(getComputedStyle(document.activeElement))`))
	if ring[0] == "none" || contrast(t, ring[1], bg) < 3 {
		t.Errorf("focus ring of the input: %s %s; contrast %.2f against %s; want a ring of 3:1 or more", ring[0], ring[1], contrast(t, ring[1], bg), bg)
	}
	if c := contrast(t, ring[3], bg); c < 3 {
		t.Errorf("input border %s: contrast %.2f; want 3:1 or more", ring[3], c)
	}
	p.do("tab to the button", chromedp.KeyEvent("\t"))
	btn := get(p, "button ring", js[[]string](`(s => [document.activeElement.id, s.outlineStyle, s.outlineColor])(getComputedStyle(document.activeElement))`))
	if btn[0] != "one-go" || btn[1] == "none" || contrast(t, btn[2], bg) < 3 {
		t.Errorf("focus ring of %s: %s %s; want a ring of 3:1 or more against %s", btn[0], btn[1], btn[2], bg)
	}

	p.pick(writeFile(t, "names.csv", []byte("first,last\nJane,Doe\nBob,Roe\n")))
	p.axe("a file refused")

	var b strings.Builder
	b.WriteString("Name,E-Mail\n")
	for i := range 60 {
		fmt.Fprintf(&b, "Person %d,%s\n", i, []string{"jane@example.com", "bob@example.com", "nobody@example.com", "x@catchall.com", "Jane <jane@gmial.com>"}[i%5])
	}
	p.pick(writeFile(t, "contacts.csv", []byte(b.String())))
	p.axe("preview")
	p.do("run", chromedp.Click(chromedp.ID("dedupe")), chromedp.Click(chromedp.ID("start")),
		waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`),
		waitJS(`window.mailverify.run.results.size === 60 && document.querySelectorAll("#jobs tbody tr").length === 1`))
	p.axe("a finished job")
	if notes := get(p, "typo notes", js[string](`[...document.querySelectorAll("#results tbody td")].map(td => td.textContent).join("|")`)); !strings.Contains(notes, "did you mean Jane@gmail.com?") && !strings.Contains(notes, "did you mean jane@gmail.com?") {
		t.Errorf("the results table does not suggest the typo fix: %.300s", notes)
	} else if strings.Contains(notes, "gmail.com?, disposable") {
		t.Error("a typo domain is also called disposable in the table")
	}

	// Bulk-apply of the typo fixes in the download.
	p.do("apply", chromedp.Click(chromedp.ID("apply")))
	if got := p.download("dl-all"); !strings.Contains(got, "\nPerson 4,jane@gmail.com,risky,possible_typo,jane@gmail.com,") {
		t.Errorf("download with the fixes applied:\n%.400s", got)
	}

	dir := os.Getenv("MAILVERIFY_SCREENSHOTS")
	for _, w := range []int64{1440, 375} {
		p.do(fmt.Sprint("width ", w), chromedp.EmulateViewport(w, 900), waitJS(`new Promise(r => setTimeout(() => r(true), 300))`))
		if w == 375 && get(p, "overflow", js[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
			t.Error("the page scrolls sideways at 375 px")
		}
		p.axe(fmt.Sprint(w, " px wide"))
		if dir != "" {
			png := get(p, "screenshot", chromedp.FullScreenshot(100)) // 100 is PNG
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("web-%d.png", w)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPageSmallThings: "1 address", Start stays off after a job, filters
// reset for the next file, and the error banner goes once the server
// answers again.
func TestPageSmallThings(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	var down atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
		}
		e.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(front.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	p.pick(writeFile(t, "one.csv", []byte("email\njane@example.com\n")))
	if a := p.text("analysis"); !strings.Contains(a, "1 row, 1 value to check (1 different) at 1 domain.") {
		t.Errorf("analysis %q; want the singulars", a)
	}
	p.do("run", chromedp.Click(chromedp.ID("start")), waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`),
		waitJS(`window.mailverify.run.results.size === 1`))
	if info := p.text("upload-info"); !strings.Contains(info, "1 address to check") {
		t.Errorf("upload line %q; want 1 address", info)
	}
	if !get(p, "start off", js[bool](`document.getElementById("start").disabled`)) {
		t.Error("Start is active again after the job ended: a second click would submit the list twice")
	}
	p.do("filter", chromedp.SetValue(chromedp.ID("f-status"), "deliverable"),
		waitJS(`document.getElementById("f-status").dispatchEvent(new Event("change")) || true`))
	p.pick(writeFile(t, "two.csv", []byte("email\nbob@example.com\nnobody@example.com\n")))
	if v := get(p, "filters", js[string](`document.getElementById("f-status").value + "|" + document.getElementById("f-status").options.length + "|" + document.getElementById("f-search").value`)); v != "|1|" {
		t.Errorf("filters after picking the next file: %q; want them reset", v)
	}
	down.Store(true)
	p.do("server down", chromedp.SetValue(chromedp.ID("one-addr"), "jane@example.com"), chromedp.Click(chromedp.ID("one-go")),
		chromedp.WaitVisible(chromedp.ID("error")))
	pos := get(p, "banner position", js[string](`getComputedStyle(document.getElementById("error")).position`))
	if pos != "sticky" && pos != "fixed" {
		t.Errorf("the error banner is %s: it scrolls off-screen", pos)
	}
	down.Store(false)
	p.do("server back", chromedp.Click(chromedp.ID("one-go")), chromedp.WaitVisible(chromedp.ID("one-badge")),
		waitJS(`document.getElementById("error").hidden`))
	if fav := get(p, "favicon", js[string](`document.querySelector("link[rel=icon]").href`)); !strings.HasSuffix(fav, "/assets/favicon.svg") {
		t.Errorf("favicon %q", fav)
	}
	resp, _ := e.do("GET", "/assets/favicon.svg", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestPageNumbersForPeople checks the page's formatting and its time-left
// estimate: from the recent pace, not the average since the start, and
// a stall is noticed.
func TestPageNumbersForPeople(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	got := get(p, "format", chromedp.Evaluate[map[string]string](`import("/assets/format.js").then(f => {
		const r = new f.Rate(60);
		r.add(0, 0); r.add(5000, 60000);        // 5,000 in the first minute
		r.add(5000, 120000); r.add(5010, 180000); // then 10 in the last minute: 0.17/s, not the average 27.8/s
		const s = new f.Rate(60); s.add(0, 0); s.add(10, 1000); s.add(10, 31000);
		return {
			big: f.num(97979), eta: f.duration(9800), min: f.duration(200), secs: f.duration(45), hours: f.duration(7200),
			one: f.count(1, "address", "addresses"), many: f.count(2, "address", "addresses"), size: f.bytes(1450000), tiny: f.bytes(1),
			recent: String(Math.round(r.perSecond() * 100) / 100), stalled: String(s.stalled(31000)),
		};
	})`, chromedp.EvalAwaitPromise))
	want := map[string]string{"big": "97,979", "eta": "2 h 43 min", "min": "3 min 20 s", "secs": "45 s", "hours": "2 h",
		"one": "1 address", "many": "2 addresses", "size": "1.5 MB", "tiny": "1 byte", "recent": "0.17", "stalled": "30"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q; want %q", k, got[k], w)
		}
	}
}
