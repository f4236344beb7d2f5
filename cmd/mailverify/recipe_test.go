package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cluster recipe of deploy/: its NATS configuration is run here as a
// real 3-node cluster of nats-server processes, built from the module
// version go.mod names.
const (
	recipeConf    = "../../deploy/nats/nats.conf"
	recipeCompose = "../../deploy/compose.yaml"
	recipePass    = "recipe-test-password"
)

// natsProc is one nats-server process of the recipe.
type natsProc struct {
	name  string
	cmd   *exec.Cmd
	url   string // client URL with the credentials of nats.conf's user
	mon   string // monitoring base URL
	log   *syncLog
	store string
}

// buildNATSServer builds nats-server at the version the module requires.
func buildNATSServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	return bin
}

// startRecipeCluster runs deploy/nats/nats.conf three times. Each node
// runs a copy of the file in which only the listeners move to loopback
// ports, the routes' host names (compose's nats-1…) to those ports, and
// the store to the test's directory; everything else (JetStream and its
// limits, the cluster's name, the user, lame duck) is the file's.
func startRecipeCluster(t *testing.T, bin string) []*natsProc {
	t.Helper()
	conf, err := os.ReadFile(recipeConf)
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 9)
	var nodes []*natsProc
	for i := range 3 {
		dir := t.TempDir()
		n := &natsProc{name: fmt.Sprintf("nats-%d", i+1), log: &syncLog{}, store: filepath.Join(dir, "js"),
			url: fmt.Sprintf("nats://mailverify:%s@127.0.0.1:%d", recipePass, ports[i]),
			mon: fmt.Sprintf("http://127.0.0.1:%d", ports[6+i])}
		moves := []string{
			"listen: 0.0.0.0:4222", fmt.Sprintf("listen: 127.0.0.1:%d", ports[i]),
			"http: 0.0.0.0:8222", fmt.Sprintf("http: 127.0.0.1:%d", ports[6+i]),
			"listen: 0.0.0.0:6222", fmt.Sprintf("listen: 127.0.0.1:%d", ports[3+i]),
			"store_dir: /data", fmt.Sprintf("store_dir: %q", n.store),
		}
		for k := range 3 {
			moves = append(moves, fmt.Sprintf("nats-route://nats-%d:6222", k+1), fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+k]))
		}
		adapted := string(conf)
		for m := 0; m < len(moves); m += 2 {
			if c := strings.Count(adapted, moves[m]); c != 1 {
				t.Fatalf("nats.conf has %q %d times; the test moves it once", moves[m], c)
			}
			adapted = strings.Replace(adapted, moves[m], moves[m+1], 1)
		}
		path := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(path, []byte(adapted), 0o600); err != nil {
			t.Fatal(err)
		}
		n.cmd = exec.Command(bin, "--config", path)
		n.cmd.Env = append(os.Environ(), "NATS_SERVER_NAME="+n.name, "NATS_PASSWORD="+recipePass)
		n.cmd.Stdout, n.cmd.Stderr = logWriter{n.log}, logWriter{n.log}
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if n.cmd.ProcessState == nil {
				_ = n.cmd.Process.Kill()
				_ = n.cmd.Wait()
			}
		})
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(45 * time.Second)
	for _, n := range nodes {
		for !n.healthy() {
			if time.Now().After(deadline) {
				t.Fatalf("%s is not healthy after 45s:\n%s", n.name, n.log)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nodes
}

// logWriter appends a process's output to a syncLog.
type logWriter struct{ l *syncLog }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.add(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// healthy is the node's JetStream health check, the one compose uses.
func (n *natsProc) healthy() bool {
	resp, err := http.Get(n.mon + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// jsz is the part of the node's /jsz that the test reads.
type jsz struct {
	Config struct {
		MaxStore int64  `json:"max_storage"`
		StoreDir string `json:"store_dir"`
	} `json:"config"`
	Meta struct {
		Name     string `json:"name"`
		Leader   string `json:"leader"`
		Replicas []struct {
			Name string `json:"name"`
		} `json:"replicas"`
	} `json:"meta_cluster"`
}

func (n *natsProc) jsz(t *testing.T) jsz {
	t.Helper()
	var j jsz
	getJSON(t, n.mon+"/jsz", &j)
	return j
}

// TestComposeMatchesNATSConf checks that deploy/compose.yaml runs the
// configuration the cluster test runs: the same file mounted in three
// NATS services named as its routes, the API with R3 streams, two workers.
func TestComposeMatchesNATSConf(t *testing.T) {
	conf, err := os.ReadFile(recipeConf)
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(recipeCompose)
	if err != nil {
		t.Fatal(err)
	}
	var routed []string
	for _, m := range regexp.MustCompile(`nats-route://([a-z0-9-]+):6222`).FindAllStringSubmatch(string(conf), -1) {
		routed = append(routed, m[1])
	}
	c, _, _ := strings.Cut(string(compose), "\nvolumes:\n") // the services, not their volumes
	var services []string
	for _, m := range regexp.MustCompile(`(?m)^  (nats-\d):\n`).FindAllStringSubmatch(c, -1) {
		services = append(services, m[1])
	}
	if len(routed) != 3 || !slices.Equal(routed, services) {
		t.Errorf("nats.conf routes to %v; compose.yaml has NATS services %v", routed, services)
	}
	for _, s := range services {
		if !strings.Contains(c, "NATS_SERVER_NAME: "+s+",") || !strings.Contains(c, `"./nats/nats.conf:/etc/nats/nats.conf:ro,Z", "`+s+`:/data"`) {
			t.Errorf("compose service %s does not name itself and mount nats/nats.conf and its store", s)
		}
	}
	if !strings.Contains(c, `command: ["--config", "/etc/nats/nats.conf"]`) {
		t.Error("compose's nats-server does not read /etc/nats/nats.conf")
	}
	if !regexp.MustCompile(`(?m)^      - serve\n(      - .*\n)*      - --replicas=3\n`).MatchString(c) {
		t.Error("compose's api is not serve with --replicas=3")
	}
	if n := len(regexp.MustCompile(`(?m)^  worker-\d:\n`).FindAllString(c, -1)); n != 2 || !strings.Contains(c, "      - worker\n") {
		t.Errorf("compose has %d worker services; want 2 running mailverify worker", n)
	}
	if !strings.Contains(string(conf), "store_dir: /data") {
		t.Error("nats.conf does not store JetStream under /data, the volume compose mounts")
	}
}

// TestClusterRecipe runs the recipe's NATS configuration as a 3-node
// cluster, the API and two workers as processes, submits a job over HTTP,
// kills the JetStream meta leader with SIGKILL mid-job, and checks that
// the job finishes with every input exactly once.
func TestClusterRecipe(t *testing.T) {
	if os.Getenv("MAILVERIFY_CLUSTER_RECIPE") != "1" {
		// It builds nats-server and runs processes for up to a minute
		// or two, and it still fails now and then for reasons other
		// than the aggregator's stall (see .ci/release), so CI runs it
		// as a step of its own that tries a failure once more, not
		// inside "go test -race work".
		t.Skip("set MAILVERIFY_CLUSTER_RECIPE=1 to run the cluster recipe (.ci/release does)")
	}
	start := time.Now()
	natsBin, bin := buildNATSServer(t), buildCLI(t)
	t.Logf("built nats-server and mailverify in %v", time.Since(start).Round(time.Millisecond))
	nodes := startRecipeCluster(t, natsBin)
	j0 := nodes[0].jsz(t)
	for deadline := time.Now().Add(30 * time.Second); j0.Meta.Leader == "" || len(j0.Meta.Replicas) < 2; j0 = nodes[0].jsz(t) {
		if time.Now().After(deadline) {
			t.Fatalf("no meta leader with 3 peers after 30s: %+v", j0)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if j0.Meta.Name != "mailverify" || len(j0.Meta.Replicas) != 2 || j0.Config.MaxStore != 20<<30 || j0.Config.StoreDir != filepath.Join(nodes[0].store, "jetstream") {
		t.Fatalf("nats-1 /jsz %+v; want cluster mailverify of 3 with nats.conf's 20GB store under the test's directory", j0)
	}
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url)
	}
	cw := newClusterWorld(t, 10, 40, 3000) // enough that the job is still running when the count passes a fifth, on a fast machine too
	common := append([]string{"--nats", strings.Join(urls, ","), "--replicas", "3", "--partitions", "8",
		"--ack-wait", "3s", "--pinned-ttl", "3s", "--per-host", "2", "--rate", "1000"}, cw.flags...)
	api := startServe(t, bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, common...)...)
	var workers []*serveProc
	for range 2 {
		workers = append(workers, startServe(t, bin, append([]string{"worker", "-v"}, common...)...))
	}
	t.Cleanup(func() {
		if t.Failed() {
			// Their goroutines, to see where a stalled job waits.
			for _, p := range append([]*serveProc{api}, workers...) {
				_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			}
			time.Sleep(2 * time.Second)
			t.Logf("the API's log:\n%s", api.logs)
			for k, w := range workers {
				t.Logf("worker %d's log:\n%s", k+1, w.logs)
			}
			for _, n := range nodes {
				t.Logf("%s's log:\n%s", n.name, n.log)
				if n.cmd.ProcessState == nil { // alive: its streams and consumers
					if resp, err := http.Get(n.mon + "/jsz?streams=true&consumers=true"); err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						t.Logf("%s's /jsz:\n%s", n.name, b)
					}
				}
			}
		}
	})
	id := submit(t, api.url, strings.Join(cw.inputs, "\n"))
	n := len(cw.inputs)
	awaitVisible(t, api.url+"/v1/jobs/"+id)
	j := waitJobAt(t, api.url, id, n/5, 60*time.Second)
	if j.State == "done" {
		t.Fatal("the job finished before the kill; make it slower")
	}
	leader := nodes[0].jsz(t).Meta.Leader
	i := slices.IndexFunc(nodes, func(n *natsProc) bool { return n.name == leader })
	if i < 0 {
		t.Fatalf("meta leader %q is none of the nodes", leader)
	}
	if err := nodes[i].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = nodes[i].cmd.Wait()
	t.Logf("killed %s, the meta leader, at %d of %d done, %v in", leader, j.Done, n, time.Since(start).Round(time.Millisecond))
	j = waitJobAt(t, api.url, id, n, 90*time.Second)
	if j.State != "done" || j.Done != n || j.Counts["deliverable"] != n {
		t.Fatalf("job %+v; want done, %d deliverable", j, n)
	}
	res := jobResults(t, api.url, id) // fails on an index seen twice
	if len(res) != n {
		t.Fatalf("%d results; want %d", len(res), n)
	}
	for k, a := range cw.inputs {
		if res[k].Input != a || res[k].Status != "deliverable" {
			t.Errorf("index %d: %+v; want %s deliverable", k, res[k], a)
		}
	}
	t.Logf("job of %d done in %v from the start", n, time.Since(start).Round(time.Millisecond))
}

// awaitVisible waits until GET url stops answering 404. The job store is a
// JetStream KV bucket, which nats.go creates with direct gets: a replica
// that has not caught up yet may answer a read right after the write, so
// a job can be "not found" for a moment after its 202 (seen in about 1 of
// 40 runs here; a bug of the service's, not of the cluster's
// configuration, logged when it happens).
func awaitVisible(t *testing.T, url string) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			return
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("GET %s: 404 for 5 s after the job was accepted", url)
		}
		t.Logf("GET %s: 404 right after the job was accepted (a stale read)", url)
	}
}
