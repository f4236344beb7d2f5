package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/service/internal/fakeworld"
	"github.com/mailverify/mailverify/service/internal/jobs"
)

// seen records the status codes each operation answered in these tests,
// for TestMain to check against the OpenAPI document.
var seen = struct {
	sync.Mutex
	m map[string]map[int]bool
}{m: map[string]map[int]bool{}}

func record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if r.Pattern == "" || r.Pattern == "/" {
			return
		}
		seen.Lock()
		if seen.m[r.Pattern] == nil {
			seen.m[r.Pattern] = map[int]bool{}
		}
		seen.m[r.Pattern][sw.status] = true
		seen.Unlock()
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkSeenInSpec(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkSeenInSpec fails when a handler answered a status code its
// operation in openapi.json does not declare.
func checkSeenInSpec() error {
	spec := loadSpec()
	seen.Lock()
	defer seen.Unlock()
	var bad []string
	api := map[string]bool{}
	for _, rt := range (&Server{}).routes() {
		api[rt.method+" "+rt.path] = true
	}
	for pattern, codes := range seen.m {
		if !api[pattern] {
			continue // the page's files, not the API
		}
		method, path, _ := strings.Cut(pattern, " ")
		op, ok := spec.op(path, method)
		if !ok {
			bad = append(bad, pattern+": not in openapi.json")
			continue
		}
		for c := range codes {
			if _, ok := op.Responses[fmt.Sprint(c)]; !ok {
				bad = append(bad, fmt.Sprintf("%s answered %d, which openapi.json does not declare", pattern, c))
			}
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("the handlers and openapi.json disagree:\n%s", strings.Join(bad, "\n"))
	}
	return nil
}

type operation struct {
	Responses map[string]any `json:"responses"`
}

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func (d openAPIDoc) op(path, method string) (operation, bool) {
	raw, ok := d.Paths[path][strings.ToLower(method)]
	var op operation
	if !ok || json.Unmarshal(raw, &op) != nil || len(op.Responses) == 0 {
		return op, false
	}
	return op, true
}

func loadSpec() openAPIDoc {
	var d openAPIDoc
	if err := json.Unmarshal(openAPI, &d); err != nil {
		panic(err)
	}
	return d
}

// env is a running API with the whole service behind it.
type env struct {
	t   *testing.T
	srv *httptest.Server
	bus *jobs.Bus
	api *Server
	w   *fakeworld.World
}

func newEnv(t *testing.T, tweak func(*Server)) *env {
	t.Helper()
	w := fakeworld.New()
	known := []string{"jane@example.com", "bob@example.com", "jane@other.com"}
	host := w.Server(testsmtp.Mailboxes(known...))
	w.Route("example.com", host)
	w.Route("other.com", host)
	w.Route("catchall.com", w.Server(&testsmtp.Server{}))
	w.Route("slow.com", w.Server(&testsmtp.Server{Banner: testsmtp.Reply{Code: 220, Lines: []string{"slow ESMTP"}, Delay: time.Second}}))
	w.Route("grey.com", w.Server(testsmtp.GreylistFor(6, "jane@grey.com")))
	t.Cleanup(w.Close)
	bus, err := jobs.Open(context.Background(), jobs.Config{DataDir: t.TempDir(), Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wv := w.Verifier()
	wv.GreylistMaxWait = time.Nanosecond
	api := &Server{Bus: bus, Verifier: w.Verifier(), AllowPrivate: true}
	if tweak != nil {
		tweak(api)
	}
	h := api.Handler()
	wv.Dialer, wv.TranscriptWriter = api.Metrics.Dialer(wv.Dialer), api.Metrics.SMTPTap()
	node := &jobs.Node{Bus: bus, Verifier: w.Verifier(), WorkerVerifier: wv, OnResult: api.Metrics.Result,
		Worker: jobs.Worker{Drain: time.Second}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = node.Run(ctx)
	}()
	srv := httptest.NewServer(record(h))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		bus.Close()
	})
	return &env{t: t, srv: srv, bus: bus, api: api, w: w}
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path, ctype, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// problemOf checks a problem+json response and returns its detail.
func (e *env) problemOf(resp *http.Response, body string, status int) string {
	e.t.Helper()
	if resp.StatusCode != status {
		e.t.Fatalf("status %d; want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		e.t.Fatalf("Content-Type %q; want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Status != status || p.Title == "" || !strings.HasPrefix(p.Type, problemBase) {
		e.t.Fatalf("problem body %s: %v", body, err)
	}
	return p.Detail
}

func (e *env) waitJob(id string, within time.Duration) jobs.Job {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, body := e.do("GET", "/v1/jobs/"+id, "", "")
		if resp.StatusCode != 200 {
			e.t.Fatalf("GET job: %d %s", resp.StatusCode, body)
		}
		var j jobs.Job
		if err := json.Unmarshal([]byte(body), &j); err != nil {
			e.t.Fatal(err)
		}
		if j.State == jobs.Done || j.State == jobs.Canceled {
			return j
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s is %s after %v (%d of %d)", id, j.State, within, j.Done, j.Total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) jobCount() int {
	e.t.Helper()
	keys, err := e.bus.Jobs.ListKeys(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	return n
}

func TestRoutesMatchOpenAPI(t *testing.T) {
	spec := loadSpec()
	if spec.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q; want 3.1.0", spec.OpenAPI)
	}
	s := &Server{}
	inCode := map[string]bool{}
	for _, rt := range s.routes() {
		key := rt.method + " " + rt.path
		inCode[key] = true
		if _, ok := spec.op(rt.path, rt.method); !ok {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	for path, ops := range spec.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if key := strings.ToUpper(method) + " " + path; !inCode[key] {
				t.Errorf("openapi.json has %s, which no route serves", key)
			}
		}
	}
}
