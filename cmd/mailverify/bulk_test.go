package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/verify"
)

func TestFlagsAnywhere(t *testing.T) {
	flags, zone := setup(t, testsmtp.Mailboxes("jane@example.test"))
	// Flags after the address: --offline is obeyed, not verified.
	code, out, errs := runCLI(t, t.Context(), "", append([]string{"jane@example.test", "--offline"}, flags...)...)
	got := parseLines(t, out)
	if code != exitOK || len(got) != 1 || got[0].Reason != "smtp_not_checked" || zone.Queries() != 0 {
		t.Errorf("flag after the address: exit %d %+v (%d DNS queries) %s", code, got, zone.Queries(), errs)
	}
	// A word that looks like a command is a usage error.
	for _, word := range []string{"serve", "bulk", "worker"} {
		if code, _, errs := runCLI(t, t.Context(), "", append(flags, word, "--offline")...); code != exitConfig || !strings.Contains(errs, "unknown command") {
			t.Errorf("%q: exit %d %q", word, code, errs)
		}
	}
	// After --, words and dashes are addresses.
	code, out, _ = runCLI(t, t.Context(), "", append(flags, "--offline", "--", "serve", "--help")...)
	if got := parseLines(t, out); code != exitOK || len(got) != 2 || got[0].Reason != "invalid_syntax" || got[1].Input != "--help" {
		t.Errorf("after --: exit %d %+v", code, got)
	}
}

func TestInputHygieneAndDedupe(t *testing.T) {
	flags, _ := setup(t, testsmtp.Mailboxes("jane@example.test"))
	in := "\ufeff  jane@example.test\t\r\n\n \t \nJANE@EXAMPLE.TEST\nnobody@example.test \n"
	code, out, errs := runCLI(t, t.Context(), in, append(flags, "--dedupe")...)
	got := parseLines(t, out)
	if code != exitOK || len(got) != 3 {
		t.Fatalf("exit %d, %d lines: %s %s", code, len(got), out, errs)
	}
	if got[0].Input != "\ufeff  jane@example.test\t" || got[0].Reason != "accepted" {
		t.Errorf("trimmed input: %+v (the original is kept in input)", got[0])
	}
	if got[1].Input != "JANE@EXAMPLE.TEST" || got[1].Reason != "accepted" || got[2].Reason != "mailbox_not_found" {
		t.Errorf("duplicate: %+v", got)
	}
}

func TestOutputFileSafety(t *testing.T) {
	flags, _ := setup(t, testsmtp.Mailboxes("jane@example.test"))
	out := filepath.Join(t.TempDir(), "out.jsonl")
	os.WriteFile(out, []byte(`{"input":"x@example.test","status":"unknown","reason":"timeout"}`+"\n"), 0o644)
	if code, _, errs := runCLI(t, t.Context(), "", append(flags, "-o", out, "jane@example.test")...); code != exitConfig || !strings.Contains(errs, "--force") {
		t.Errorf("existing file without --force: exit %d %q", code, errs)
	}
	// --resume --retry-unknown verifies the unknown again; the file holds
	// each input once.
	code, _, errs := runCLI(t, t.Context(), "x@example.test\njane@example.test\n", append(flags, "-o", out, "--resume", "--retry-unknown")...)
	data, _ := os.ReadFile(out)
	got := parseLines(t, string(data))
	if code != exitOK || len(got) != 2 || got[0].Input == got[1].Input {
		t.Errorf("retry-unknown: exit %d %q:\n%s", code, errs, data)
	}
	for _, l := range got {
		if l.Input == "x@example.test" && l.Reason == "timeout" {
			t.Errorf("the unknown result was kept: %s", data)
		}
	}
	if code, _, _ := runCLI(t, t.Context(), "", append(flags, "-o", out, "--force", "jane@example.test")...); code != exitOK {
		t.Errorf("--force: exit %d", code)
	}
}

func TestProgressETA(t *testing.T) {
	p := newProgress(&bytes.Buffer{}, 100)
	for range 25 {
		p.add(verify.Result{Status: verify.Deliverable})
	}
	if line := p.line(10 * time.Second); !strings.Contains(line, "25/100") || !strings.Contains(line, "ETA 30s") || !strings.Contains(line, "2.5/s") {
		t.Errorf("progress line %q", line)
	}
	u := newProgress(&bytes.Buffer{}, 0)
	u.add(verify.Result{Status: verify.Unknown})
	if line := u.line(time.Second); !strings.Contains(line, "1 done") || strings.Contains(line, "ETA") {
		t.Errorf("unknown total: %q", line)
	}
}

// buildCLI builds the command for the tests that signal it.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailverify")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// slowWorld is a CLI setup whose server answers each command after 10 ms, and
// an input of n addresses over a few domains.
func slowWorld(t *testing.T, n int) (flags []string, input string, inputs []string) {
	t.Helper()
	srv := testsmtp.Mailboxes()
	srv.ReplyDelay = 10 * time.Millisecond
	flags, zone := setup(t, srv)
	for d := range 4 {
		zone.Add(fmt.Sprintf("d%d.example.test. 300 IN MX 10 mx.example.test.", d))
	}
	var b strings.Builder
	for i := range n {
		a := fmt.Sprintf("user%d@d%d.example.test", i, i%4)
		inputs = append(inputs, a)
		b.WriteString(a + "\n")
	}
	return append(flags, "--rate", "1000"), b.String(), inputs
}

// lines returns the complete JSON lines of the file, and whether any
// complete line fails to parse.
func fileLines(t *testing.T, path string) (inputs []string, bad bool) {
	data, _ := os.ReadFile(path)
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1] // a line cut short by the kill is resume's to drop
	} else {
		data = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var r struct{ Input string }
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			return inputs, true
		}
		inputs = append(inputs, r.Input)
	}
	return inputs, false
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, _ := fileLines(t, path); len(got) >= n {
			return
		}
	}
	t.Fatalf("the output never reached %d lines", n)
}

func checkComplete(t *testing.T, path string, want []string) {
	t.Helper()
	got, bad := fileLines(t, path)
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w] != 1 {
			t.Errorf("%s is in the file %d times", w, seen[w])
		}
	}
	if bad || len(got) != len(want) {
		t.Errorf("%d lines for %d inputs (malformed: %v)", len(got), len(want), bad)
	}
}

// bulkRun is a CLI run over a slow world, writing to a file, that the
// tests interrupt once 40 results are written.
type bulkRun struct {
	bin, out, input string
	flags, inputs   []string
	cmd             *exec.Cmd
}

func startBulk(t *testing.T) *bulkRun {
	t.Helper()
	r := &bulkRun{bin: buildCLI(t), out: filepath.Join(t.TempDir(), "out.jsonl")}
	r.flags, r.input, r.inputs = slowWorld(t, 300)
	r.cmd = exec.Command(r.bin, append(r.flags, "-o", r.out)...)
	r.cmd.Stdin = strings.NewReader(r.input)
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitLines(t, r.out, 40)
	return r
}

// resume runs the CLI again with --resume and checks the file is whole.
func (r *bulkRun) resume(t *testing.T) {
	t.Helper()
	res := exec.Command(r.bin, append(r.flags, "-o", r.out, "--resume")...)
	res.Stdin = strings.NewReader(r.input)
	if msg, err := res.CombinedOutput(); err != nil {
		t.Fatalf("resume: %v %s", err, msg)
	}
	checkComplete(t, r.out, r.inputs)
}

// TestKillAndResume: SIGKILL in the middle loses no result already
// written, and --resume completes the file with every input once.
func TestKillAndResume(t *testing.T) {
	r := startBulk(t)
	before, _ := fileLines(t, r.out)
	r.cmd.Process.Kill()
	r.cmd.Wait()
	after, bad := fileLines(t, r.out)
	if bad || len(after) < len(before) {
		t.Fatalf("after kill -9: %d lines (had %d), malformed %v", len(after), len(before), bad)
	}
	if len(after) == len(r.inputs) {
		t.Fatal("the run finished before the kill; the test proves nothing")
	}
	r.resume(t)
}

// TestInterruptExitsPromptly: Ctrl-C stops the run within 2 s with exit
// status 130, keeps what was verified, and --resume completes the file.
func TestInterruptExitsPromptly(t *testing.T) {
	r := startBulk(t)
	start := time.Now()
	r.cmd.Process.Signal(syscall.SIGINT)
	err := r.cmd.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("exited %v after Ctrl-C", d)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Errorf("exit after Ctrl-C: %v, want status %d", err, exitInterrupted)
	}
	got, bad := fileLines(t, r.out)
	if bad || len(got) < 40 {
		t.Errorf("after Ctrl-C: %d lines, malformed %v", len(got), bad)
	}
	r.resume(t)
}
