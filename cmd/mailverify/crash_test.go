package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// postKeyed posts a job with an Idempotency-Key and returns the status and
// the job's id, if any.
func postKeyed(t *testing.T, base, key string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/jobs", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var j jobView
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &j)
	return resp.StatusCode, j.ID
}

// TestServeCrashMidUpload kills the service with kill -9 while a
// 1M-line upload is arriving, and starts it again on the same data: a
// one-line job submitted then finishes at once, the abandoned upload's
// Idempotency-Key is free for the client's retry, and the key with
// another body is refused with 422.
func TestServeCrashMidUpload(t *testing.T) {
	bin := buildCLI(t)
	args, _, want := serveWorld(t, 4)
	p := startServe(t, bin, args...)

	pr, pw := io.Pipe()
	var sent atomic.Int64
	go func() {
		for i := range 1_000_000 {
			n, err := fmt.Fprintf(pw, "user%d@d%d.example.test\n", i, i%20)
			if err != nil {
				return
			}
			sent.Add(int64(n))
		}
		pw.Close()
	}()
	posted := make(chan int, 1)
	go func() {
		code, _ := postKeyed(t, p.url, "big-upload-1", pr)
		posted <- code
	}()
	deadline := time.Now().Add(60 * time.Second)
	for sent.Load() < 4<<20 { // several chunks staged
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes sent in 60 s", sent.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.kill9(t)
	pr.CloseWithError(io.ErrClosedPipe)
	if code := <-posted; code == http.StatusAccepted {
		t.Fatalf("the upload was accepted although the service died during it")
	}

	p2 := startServe(t, bin, args...)
	id := submit(t, p2.url, want[0]+"\n")
	j := waitJobAt(t, p2.url, id, 1, 15*time.Second)
	if j.State != "done" {
		t.Fatalf("a one-line job after the crash: %+v; want done within 15 s\n%s", j, p2.logs)
	}
	// The client retries its upload (a smaller one here): the key is free.
	retry := strings.Join(want[:2], "\n") + "\n"
	code, rid := postKeyed(t, p2.url, "big-upload-1", strings.NewReader(retry))
	if code != http.StatusAccepted || rid == "" {
		t.Fatalf("the retry with the abandoned upload's key: %d; want 202", code)
	}
	if j := waitJobAt(t, p2.url, rid, 2, 15*time.Second); j.State != "done" || j.Total != 2 {
		t.Fatalf("the retried job: %+v", j)
	}
	if code, again := postKeyed(t, p2.url, "big-upload-1", strings.NewReader(retry)); code != http.StatusAccepted || again != rid {
		t.Errorf("the same key and body again: %d %s; want 202 with job %s", code, again, rid)
	}
	if code, _ := postKeyed(t, p2.url, "big-upload-1", strings.NewReader(want[3]+"\n")); code != http.StatusUnprocessableEntity {
		t.Errorf("the same key with another body: %d; want 422", code)
	}
}
