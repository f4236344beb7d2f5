package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// smallDisk mounts a tmpfs of size MiB (as root; the test is skipped
// otherwise) and returns its directory.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file under dir until leave bytes are free.
func fill(t *testing.T, path string, leave uint64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free <= leave {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n := free - leave; n > 0; {
		k := min(n, uint64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			break
		}
		n -= k
	}
}

func status(t *testing.T, method, url, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func waitStatus(t *testing.T, url string, want int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body, _ := status(t, "GET", url, "")
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s after %v; want %d", url, code, body, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeFullDisk runs the service on a 64 MiB tmpfs and fills it
// mid-job: /readyz says why it is not ready, uploads get 507 "storage
// full", the running job pauses and finishes once there is room again,
// and SIGTERM on a full disk stops the service within 30 seconds.
func TestServeFullDisk(t *testing.T) {
	disk := smallDisk(t, 64)
	bin := buildCLI(t)
	const n = 1000
	var addrs []string
	var body strings.Builder
	for i := range n {
		a := fmt.Sprintf("user%d@d%d.example.test", i, i%10)
		addrs = append(addrs, a)
		body.WriteString(a + "\n")
	}
	srv := testsmtp.Mailboxes(addrs...)
	srv.ReplyDelay = 20 * time.Millisecond
	flags, zone := setup(t, srv)
	for d := range 10 {
		zone.Add(fmt.Sprintf("d%d.example.test. 300 IN MX 10 mx.example.test.", d))
	}
	args := append([]string{"serve", "--data", filepath.Join(disk, "data"), "--listen", "127.0.0.1:0", "--ack-wait", "3s",
		"--pinned-ttl", "3s", "--rate", "1000", "--partitions", "4"}, slicesWithout(flags, "--progress=false")...)
	p := startServe(t, bin, args...)
	id := submit(t, p.url, body.String())
	waitJobAt(t, p.url, id, 20, 60*time.Second)

	ballast := filepath.Join(disk, "ballast")
	fill(t, ballast, 2<<20)
	if why := waitStatus(t, p.url+"/readyz", 503, 5*time.Second); !strings.Contains(why, "storage full") {
		t.Errorf("/readyz on a full disk: %s; want the reason", why)
	}
	code, prob, hdr := status(t, "POST", p.url+"/v1/jobs", "jane@d1.example.test\n")
	if code != http.StatusInsufficientStorage || !strings.Contains(prob, "storage full") || hdr.Get("Retry-After") == "" ||
		strings.Contains(strings.ToLower(prob), "nats") {
		t.Errorf("an upload on a full disk: %d %s (Retry-After %q); want 507 storage full", code, prob, hdr.Get("Retry-After"))
	}
	// What was in flight lands; then nothing moves.
	var before, after jobView
	getJSON(t, p.url+"/v1/jobs/"+id, &before)
	for settle := time.Now().Add(30 * time.Second); ; before = after {
		time.Sleep(2 * time.Second)
		getJSON(t, p.url+"/v1/jobs/"+id, &after)
		if after.Done == before.Done {
			break
		}
		if time.Now().After(settle) {
			t.Fatalf("on a full disk the job went on for 30 s: %d done, then %d", before.Done, after.Done)
		}
	}
	time.Sleep(3 * time.Second)
	getJSON(t, p.url+"/v1/jobs/"+id, &after)
	if before.State == "done" {
		t.Fatalf("the job finished before the disk filled; make it slower")
	}
	if after.Done != before.Done {
		t.Errorf("on a full disk the job went on: %d then %d done; want it paused", before.Done, after.Done)
	}
	t.Logf("paused at %d of %d", after.Done, n)

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p.url+"/readyz", 200, 5*time.Second)
	if j := waitJobAt(t, p.url, id, n, 120*time.Second); j.State != "done" || j.Done != n {
		t.Fatalf("after room came back: %+v; want done %d", j, n)
	}
	if code, body, _ := status(t, "POST", p.url+"/v1/jobs", "jane@d1.example.test\n"); code != 202 {
		t.Fatalf("an upload after room came back: %d %s", code, body)
	}

	fill(t, ballast, 1<<20)
	waitStatus(t, p.url+"/readyz", 503, 5*time.Second)
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	took := time.Since(start)
	if took > 30*time.Second {
		t.Errorf("SIGTERM on a full disk took %v", took)
	}
	t.Logf("SIGTERM on a full disk: stopped in %v", took.Round(time.Millisecond))
}
