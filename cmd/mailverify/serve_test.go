package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// serveProc is a "mailverify serve" (or worker) process.
type serveProc struct {
	cmd  *exec.Cmd
	url  string // the API's base URL, for serve
	logs *syncLog
}

// syncLog is a process's stderr, written by one goroutine and read by the test.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s + "\n")
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingLine = regexp.MustCompile(`serving (http://[^/ ]+)/`)

// startServe runs the binary with args and waits for it to say where it
// serves (or, for a worker, that it started).
func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, logs: &syncLog{}}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.add(line)
			if m := servingLine.FindStringSubmatch(line); m != nil {
				ready <- m[1]
			} else if strings.Contains(line, "mailverify: worker on NATS") {
				ready <- ""
			}
		}
		close(ready)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	select {
	case u, ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("%v exited before serving: %s", args, p.logs)
		}
		p.url = u
	case <-time.After(60 * time.Second):
		t.Fatalf("%v did not start", args)
	}
	return p
}

func (p *serveProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

type jobView struct {
	ID     string         `json:"id"`
	State  string         `json:"state"`
	Total  int            `json:"total"`
	Done   int            `json:"done"`
	Counts map[string]int `json:"counts"`
}

// getJSON reads a JSON answer, asking again while the service says it
// is briefly unavailable (a cluster electing a leader).
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	for retries := 0; err == nil && resp.StatusCode == http.StatusServiceUnavailable && retries < 10; retries++ {
		resp.Body.Close()
		time.Sleep(500 * time.Millisecond)
		resp, err = http.Get(url)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func submit(t *testing.T, base string, body string) string {
	t.Helper()
	resp, err := http.Post(base+"/v1/jobs", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var j jobView
	if resp.StatusCode != 202 || json.NewDecoder(resp.Body).Decode(&j) != nil {
		t.Fatalf("POST /v1/jobs: %d", resp.StatusCode)
	}
	return j.ID
}

// waitJobAt polls until the job has at least n done (or is done).
func waitJobAt(t *testing.T, base, id string, n int, within time.Duration) jobView {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var j jobView
		getJSON(t, base+"/v1/jobs/"+id, &j)
		if j.Done >= n || j.State == "done" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %d of %d done after %v; want %d", id, j.Done, j.Total, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jobResults reads every result page and fails on an index seen twice.
func jobResults(t *testing.T, base, id string) map[int]line {
	t.Helper()
	out := map[int]line{}
	cursor := "0"
	retries := 0
	for {
		resp, err := http.Get(fmt.Sprintf("%s/v1/jobs/%s/results?after=%s&limit=500", base, id, cursor))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && retries < 10 { // the cluster is electing a leader
			retries++
			time.Sleep(500 * time.Millisecond)
			continue
		}
		if resp.StatusCode != 200 {
			t.Fatalf("results: %d %s", resp.StatusCode, body)
		}
		n := 0
		for l := range strings.Lines(string(body)) {
			var r struct {
				Index int `json:"index"`
				line
			}
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("result %q: %v", l, err)
			}
			if _, dup := out[r.Index]; dup {
				t.Fatalf("index %d has two results", r.Index)
			}
			out[r.Index] = r.line
			n++
		}
		if n == 0 {
			return out
		}
		cursor = resp.Header.Get("Mailverify-Cursor")
	}
}

// serveWorld is n addresses over 20 domains on one slowish server, and
// the serve command's arguments for it.
func serveWorld(t *testing.T, n int) (args []string, body string, want []string) {
	t.Helper()
	const domains = 20
	var b strings.Builder
	for i := range n {
		a := fmt.Sprintf("user%d@d%d.example.test", i, i%domains)
		want = append(want, a)
		b.WriteString(a + "\n")
	}
	srv := testsmtp.Mailboxes(want...)
	srv.ReplyDelay = 5 * time.Millisecond
	flags, zone := setup(t, srv)
	for d := range domains {
		zone.Add(fmt.Sprintf("d%d.example.test. 300 IN MX 10 mx.example.test.", d))
	}
	args = append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--ack-wait", "2s", "--pinned-ttl", "3s",
		"--rate", "1000", "--partitions", "4"}, flags...)
	return slicesWithout(args, "--progress=false"), b.String(), want
}

// TestServeSurvivesKill9 kills the embedded service mid-job and starts it
// again on the same data: the job finishes with every input exactly once.
func TestServeSurvivesKill9(t *testing.T) {
	bin := buildCLI(t)
	const n = 400
	args, body, want := serveWorld(t, n)
	p := startServe(t, bin, args...)
	id := submit(t, p.url, body)
	j := waitJobAt(t, p.url, id, 40, 60*time.Second)
	if j.State == "done" {
		t.Fatalf("the job finished before the kill; make it slower")
	}
	p.kill9(t)
	p2 := startServe(t, bin, args...)
	j = waitJobAt(t, p2.url, id, n, 120*time.Second)
	if j.State != "done" || j.Done != n || j.Total != n {
		t.Fatalf("after a kill -9 and a restart: %+v; want done %d of %d", j, n, n)
	}
	res := jobResults(t, p2.url, id)
	if len(res) != n {
		t.Fatalf("%d results; want %d", len(res), n)
	}
	for i, a := range want {
		if res[i].Input != a || res[i].Status != "deliverable" {
			t.Errorf("index %d: %+v; want %s deliverable", i, res[i], a)
		}
	}
	if t.Failed() {
		t.Logf("the restarted service's log:\n%s", p2.logs)
	}
	if got := j.Counts["deliverable"]; got != n {
		t.Errorf("counts %v; want %d deliverable (each result counted once)", j.Counts, n)
	}
}

func slicesWithout(s []string, drop string) []string {
	out := s[:0:0]
	for _, x := range s {
		if x != drop {
			out = append(out, x)
		}
	}
	return out
}

// TestServeSIGTERM: SIGTERM mid-job stops the service promptly with
// status 0, and what was queued is done after a restart.
func TestServeSIGTERM(t *testing.T) {
	bin := buildCLI(t)
	const n = 400
	args, body, _ := serveWorld(t, n)
	p := startServe(t, bin, args...)
	id := submit(t, p.url, body)
	waitJobAt(t, p.url, id, 40, 60*time.Second)
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("SIGTERM took %v to stop the service", took)
	}
	if err != nil {
		t.Errorf("after SIGTERM: %v; want exit status 0\n%s", err, p.logs)
	}
	p2 := startServe(t, bin, args...)
	j := waitJobAt(t, p2.url, id, n, 120*time.Second)
	if j.State != "done" || j.Done != n {
		t.Fatalf("after a restart: %+v; want done %d", j, n)
	}
	if res := jobResults(t, p2.url, id); len(res) != n {
		t.Errorf("%d results; want %d", len(res), n)
	}
}
