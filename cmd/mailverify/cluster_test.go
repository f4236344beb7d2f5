package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// freePorts returns n TCP ports free on loopback now.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// startCluster runs a real 3-node NATS cluster with JetStream on
// loopback and returns its client URLs. The nodes are nats-server
// processes built without the race detector (the recipe's, see
// startRecipeCluster): in this process, under -race and a loaded
// machine, the three nodes' Raft groups fell behind and the job crawled
// (188 of 2,000 addresses in 2 minutes in CI).
func startCluster(t *testing.T) string {
	t.Helper()
	var urls []string
	for _, n := range startRecipeCluster(t, buildNATSServer(t)) {
		urls = append(urls, n.url)
	}
	return strings.Join(urls, ",")
}

// clusterWorld is mail servers on 127.0.0.2…, all on one port, with the
// domains spread over them, and a DNS server for the zone.
type clusterWorld struct {
	servers []*testsmtp.Server
	flags   []string
	inputs  []string
}

func newClusterWorld(t *testing.T, servers, domains, addrs int) *clusterWorld {
	t.Helper()
	cw := &clusterWorld{}
	for i := range addrs {
		cw.inputs = append(cw.inputs, fmt.Sprintf("user%d@d%d.example.test", i, i%domains))
	}
	var port int
	for attempt := 0; ; attempt++ {
		ls, p, err := listenAll(servers)
		if err == nil {
			for _, l := range ls {
				srv := testsmtp.Mailboxes(cw.inputs...)
				srv.ReplyDelay = 2 * time.Millisecond
				srv.Serve(l)
				t.Cleanup(srv.Close)
				cw.servers = append(cw.servers, srv)
			}
			port = p
			break
		}
		if attempt == 10 {
			t.Fatal(err)
		}
	}
	zone, err := testdns.NewZone("example.test. 300 IN MX 10 mx0.example.test.")
	if err != nil {
		t.Fatal(err)
	}
	for k := range servers {
		zone.Add(fmt.Sprintf("mx%d.example.test. 300 IN A 127.0.0.%d", k, k+2))
	}
	for d := range domains {
		zone.Add(fmt.Sprintf("d%d.example.test. 300 IN MX 10 mx%d.example.test.", d, d%servers))
	}
	dnsAddr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	cw.flags = []string{"--dns", dnsAddr, "--port", fmt.Sprint(port), "--allow-private", "--allow-special-use",
		"--helo", "verifier.example.net", "--dns-canary", "example.test"}
	return cw
}

// listenAll listens on 127.0.0.2… with one port for all.
func listenAll(n int) ([]net.Listener, int, error) {
	first, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		return nil, 0, err
	}
	port := first.Addr().(*net.TCPAddr).Port
	ls := []net.Listener{first}
	for k := 1; k < n; k++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", k+2, port))
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, 0, err
		}
		ls = append(ls, l)
	}
	return ls, port, nil
}

// hooks receives webhooks and counts each webhook-id.
type hooks struct {
	mu  sync.Mutex
	ids map[string]int
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.ids[r.Header.Get("webhook-id")]++
	h.mu.Unlock()
}

// TestClusterJob runs a job of 2,000 addresses over 100 domains on a real
// 3-node cluster (R3 streams) with 3 worker processes; it kills one worker
// with SIGKILL and restarts the API process mid-job. The job completes
// with every input exactly once, one webhook, and no mail server saw more
// sessions at once than the per-host limit.
func TestClusterJob(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster and five processes")
	}
	bin := buildCLI(t)
	urls := startCluster(t)
	const perHost = 2
	cw := newClusterWorld(t, 20, 100, 2000)
	hk := &hooks{ids: map[string]int{}}
	hookSrv := httptest.NewServer(hk)
	t.Cleanup(hookSrv.Close)
	common := append([]string{"--nats", urls, "--replicas", "3", "--partitions", "8", "--ack-wait", "2s", "--pinned-ttl", "3s",
		"--per-host", fmt.Sprint(perHost), "--rate", "2000"}, cw.flags...)
	serveArgs := append([]string{"serve", "--listen", "127.0.0.1:0", "--webhook-allow-private"}, common...)
	api := startServe(t, bin, serveArgs...)
	var workers []*serveProc
	for range 3 {
		workers = append(workers, startServe(t, bin, append([]string{"worker"}, common...)...))
	}
	resp, err := http.Post(api.url+"/v1/jobs?webhook_url="+hookSrv.URL+"/done", "text/plain", strings.NewReader(strings.Join(cw.inputs, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	var j jobView
	if resp.StatusCode != 202 || json.NewDecoder(resp.Body).Decode(&j) != nil {
		t.Fatalf("POST /v1/jobs: %d", resp.StatusCode)
	}
	resp.Body.Close()
	n := len(cw.inputs)
	j = waitJobAt(t, api.url, j.ID, n/5, 120*time.Second)
	if j.State == "done" {
		t.Fatal("the job finished before the kills; make it slower")
	}
	workers[0].kill9(t)
	api.kill9(t)
	api = startServe(t, bin, serveArgs...)
	j = waitJobAt(t, api.url, j.ID, n, 180*time.Second)
	if j.State != "done" || j.Done != n {
		t.Fatalf("job %+v; want done %d", j, n)
	}
	res := jobResults(t, api.url, j.ID)
	if len(res) != n {
		t.Fatalf("%d results; want %d", len(res), n)
	}
	for i, a := range cw.inputs {
		if res[i].Input != a || res[i].Status != "deliverable" {
			t.Errorf("index %d: %+v; want %s deliverable", i, res[i], a)
		}
	}
	if j.Counts["deliverable"] != n {
		t.Errorf("counts %v; want %d deliverable", j.Counts, n)
	}
	for k, srv := range cw.servers {
		if m := srv.MaxOpen(); m > perHost {
			t.Errorf("server %d saw %d sessions at once; the per-host limit is %d", k, m, perHost)
		}
		if srv.Connections() == 0 {
			t.Errorf("server %d was never asked", k)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		hk.mu.Lock()
		got := hk.ids["job_"+j.ID+"_completed"]
		total := len(hk.ids)
		hk.mu.Unlock()
		if got == 1 && total == 1 {
			break
		}
		if got > 1 || total > 1 || time.Now().After(deadline) {
			t.Fatalf("webhooks %v; want one job_%s_completed; the API's log:\n%s", hk.ids, j.ID, api.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
