package api

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/service/internal/web"
)

// TestPageEgressPanel: the page shows each way out per provider from GET
// /v1/egress: its state in words, since when, why (the server's reply),
// what to do and the next retry; a way out no server refused is healthy.
// axe-core finds no violation with the panel full, the state words keep
// 4.5:1 against the page, and nothing scrolls sideways at 375 px.
func TestPageEgressPanel(t *testing.T) {
	store := &egress.MemStore{}
	e := newEnv(t, func(s *Server) {
		s.Web = web.Handler()
		s.EgressStore = store
		s.Verifier.Egresses = []egress.Egress{{Name: "a", Source: netip.MustParseAddr("127.0.0.2")},
			{Name: "b", Source: netip.MustParseAddr("127.0.0.3")}, {Name: "c", Source: netip.MustParseAddr("127.0.0.4")}}
		s.Verifier.EgressStore = store
	})
	h := &egress.Health{Store: store}
	block := egress.Reply{Stage: egress.StageMail, Code: 550, Enhanced: "5.7.1", Text: "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org"}
	throttle := egress.Reply{Stage: egress.StageRcpt, Code: 421, Enhanced: "4.7.28", Text: "Our system has detected an unusual rate of unsolicited mail originating from your IP address."}
	for _, o := range []struct {
		key egress.Key
		rep egress.Reply
	}{{egress.Key{Egress: "a", Provider: "google"}, block}, {egress.Key{Egress: "b", Provider: "google"}, throttle}} {
		if _, err := h.Observe(o.key, "mx.example.com", o.rep); err != nil {
			t.Fatal(err)
		}
	}
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), waitJS(`document.querySelectorAll("#egress tbody tr").length === 3`))
	rows := get(p, "rows", js[[][]string](`[...document.querySelectorAll("#egress tbody tr")].map(tr => [...tr.cells].map(td => td.textContent))`))
	byWay := map[string][]string{}
	for _, r := range rows {
		byWay[strings.Fields(r[0])[0]] = r
	}
	a, b, c := byWay["a"], byWay["b"], byWay["c"]
	if a == nil || b == nil || c == nil {
		t.Fatalf("panel rows %q; want a, b and c", rows)
	}
	if strings.Count(a[0], "a") > 1 || !strings.Contains(a[0], "127.0.0.2") {
		t.Errorf("way out %q; want its name once, with its address", a[0])
	}
	if a[1] != "google" || a[2] != "blocked" || !strings.Contains(a[4], "mx.example.com said:") || !strings.Contains(a[4], "blocked using zen.spamhaus.org") ||
		a[5] == "" || !strings.HasPrefix(a[6], "in ") || a[3] == "" {
		t.Errorf("a blocked way out: %q; want google, blocked, since, the reply, advice, next retry", a)
	}
	if b[2] != "throttled" || !strings.Contains(b[4], "4.7.28") || b[5] == "" || !strings.HasPrefix(b[6], "in ") {
		t.Errorf("a throttled way out: %q", b)
	}
	if c[1] != "all" || c[2] != "healthy" {
		t.Errorf("a way out without trouble: %q; want healthy for all", c)
	}
	if s := p.text("egress-summary"); !strings.Contains(s, "1 blocked") || !strings.Contains(s, "1 throttled") || !strings.Contains(s, "never undeliverable") {
		t.Errorf("summary %q", s)
	}
	p.axe("egress panel")
	bg := get(p, "background", js[string](`getComputedStyle(document.body).backgroundColor`))
	if bg == "rgba(0, 0, 0, 0)" {
		bg = "rgb(255, 255, 255)"
	}
	for _, st := range []string{"blocked", "throttled", "healthy"} {
		col := get(p, "colour "+st, js[string](`getComputedStyle(document.querySelector("#egress td.eg-`+st+`")).color`))
		if cr := contrast(t, col, bg); cr < 4.5 {
			t.Errorf("state %s in %s: contrast %.2f; want 4.5:1 or more", st, col, cr)
		}
	}
	p.do("tab to the panel", waitJS(`(document.querySelector('[aria-label^="Jobs"]').focus(), true)`), chromedp.KeyEvent("\t"))
	ring := get(p, "ring", js[[]string](`(s => [document.activeElement.id, s.outlineStyle, s.outlineColor])(getComputedStyle(document.activeElement))`))
	if ring[0] != "egress-wrap" || ring[1] == "none" || contrast(t, ring[2], bg) < 3 {
		t.Errorf("focus ring of %s: %s %s; want the panel's, 3:1 or more", ring[0], ring[1], ring[2])
	}
	p.do("narrow", chromedp.EmulateViewport(375, 900), waitJS(`new Promise(r => setTimeout(() => r(true), 300))`))
	if get(p, "overflow", js[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("the page scrolls sideways at 375 px with the panel")
	}
	p.axe("egress panel at 375 px")
	if dir := os.Getenv("MAILVERIFY_SCREENSHOTS"); dir != "" {
		p.do("wide", chromedp.EmulateViewport(1440, 900), chromedp.ScrollIntoView(chromedp.ID("egress-h")))
		png := get(p, "screenshot", chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(dir, "web-egress.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPageEstimateAndGreylisting: before the upload the page estimates
// the time at the service's politeness and says what it assumes; while
// the job runs it says how many addresses wait for a greylisting retry,
// from the job's status.
func TestPageEstimateAndGreylisting(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler(); s.Verifier.PerHostRate, s.Verifier.Concurrency = 5, 16 })
	p := page{t, browser(t)}
	p.do("open", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")))
	// The model: the biggest domain, or the work shared by the sessions.
	got := get(p, "model", js[[]float64](`(() => {
		const m = window.mailverify.estimate, pace = {per_server_rate: 10, sessions: 16};
		const many = new Map(); for (let i = 0; i < 100; i++) many.set("d" + i + ".com", 1);
		return [m.seconds(new Map([["a.com", 100], ["b.com", 10]]), pace), m.seconds(many, pace)];
	})()`))
	if len(got) != 2 || got[0] < 12.09 || got[0] > 12.11 || got[1] < 13.74 || got[1] > 13.76 {
		t.Errorf("estimates %v; want 12.1 s (a.com: 2 + 101/10) and 13.75 s (100 domains of 2.2 s over 16 sessions)", got)
	}
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 200 {
		fmt.Fprintf(&b, "user%d@example.com\n", i)
	}
	b.WriteString("jane@grey.com\nnobody@grey.com\njane@grey.com\n")
	p.pick(writeFile(t, "grey.csv", []byte(b.String())))
	est := p.text("estimate")
	for _, want := range []string{"Estimated time: about 42 s for 2 domains", "at most 5 addresses a second to one mail server", "16 mail servers at once",
		"assumes each domain has mail servers of its own", "greylist add retries for up to 30 min"} {
		if !strings.Contains(est, want) {
			t.Errorf("estimate %q; want it to say %q", est, want)
		}
	}
	p.do("run", chromedp.Click(chromedp.ID("start")),
		waitJS(`document.getElementById("progress-note").textContent.includes("wait for a greylisting retry")`))
	note := p.text("progress-note")
	if !strings.HasPrefix(note, "2 addresses wait for a greylisting retry: their mail servers asked us to come back later; the next retry is") {
		t.Errorf("progress note %q; want the 2 greylisted addresses counted", note)
	}
	p.axe("a job waiting for greylisting")
	if dir := os.Getenv("MAILVERIFY_SCREENSHOTS"); dir != "" {
		png := get(p, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, "web-greylisted.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.do("done", waitJS(`(document.getElementById("progress-text").textContent || "").startsWith("Done")`))
	if note := p.text("progress-note"); note != "" {
		t.Errorf("a finished job still says %q", note)
	}
}
