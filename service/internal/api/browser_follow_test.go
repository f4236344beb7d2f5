package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mailverify/mailverify/service/internal/web"
)

// TestPageShowsOneJobAtATime: a page of results of the job followed
// before, answered after another job was shown, does not leak into the
// other's table (it once did: the check came before the body was read,
// and the late page set the cursor past the new job's first results).
func TestPageShowsOneJobAtATime(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Web = web.Handler() })
	a := e.postList("name=a.csv", []byte("email\njane@example.com\nbob@example.com\nnobody@example.com\n"))
	b := e.postList("name=b.csv", []byte("email\njane@other.com\nx@catchall.com\n"))
	e.waitJob(a.ID, 30*time.Second)
	e.waitJob(b.ID, 30*time.Second)
	sent := make(chan struct{}, 16)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/jobs/"+a.ID+"/results") {
			e.srv.Config.Handler.ServeHTTP(w, r)
			return
		}
		// A's results: the headers at once, the body late.
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.(http.Flusher).Flush()
		sent <- struct{}{}
		time.Sleep(1500 * time.Millisecond)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(front.Close)
	p := page{t, browser(t)}
	show := func(id string) chromedp.Action[chromedp.Void] {
		return waitJS(`!!document.querySelector("#jobs tr[data-id='` + id + `'] button[aria-label^='Show']") && (document.querySelector("#jobs tr[data-id='` + id + `'] button[aria-label^='Show']").click() || true)`)
	}
	p.do("open", chromedp.Navigate(front.URL+"/"), chromedp.WaitVisible(chromedp.ID("file")), show(a.ID))
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("the page never asked for A's results")
	}
	p.do("show B", show(b.ID), waitJS(`window.mailverify.run.job.id === "`+b.ID+`" && window.mailverify.run.results.size >= 2`),
		waitJS(`new Promise(r => setTimeout(() => r(true), 2500))`)) // A's late page has come
	got := get(p, "inputs", js[[]string](`[...window.mailverify.run.results.values()].map(r => r.input).sort()`))
	if strings.Join(got, " ") != "jane@other.com x@catchall.com" {
		t.Errorf("B's results on the page: %q; want B's two only", got)
	}
}
