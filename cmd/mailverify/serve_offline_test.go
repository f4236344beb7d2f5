package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestServeOffline: serve --offline answers like the check command's
// --offline, over /v1/verify and in a job: syntax and lists only, with no
// DNS question and no SMTP connection.
func TestServeOffline(t *testing.T) {
	bin := buildCLI(t)
	srv := testsmtp.Mailboxes("jane@example.test")
	flags, zone := setup(t, srv)
	args := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--offline"}, slicesWithout(flags, "--progress=false")...)
	p := startServe(t, bin, args...)

	resp, err := http.Post(p.url+"/v1/verify", "application/json", strings.NewReader(`{"address": "jane@example.test"}`))
	if err != nil {
		t.Fatal(err)
	}
	var one line
	err = json.NewDecoder(resp.Body).Decode(&one)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || one.Status != "unknown" || one.Reason != "smtp_not_checked" {
		t.Errorf("POST /v1/verify offline: %d %+v %v; want 200 unknown/smtp_not_checked", resp.StatusCode, one, err)
	}

	id := submit(t, p.url, "jane@example.test\nnot-an-address\n")
	j := waitJobAt(t, p.url, id, 2, 60*time.Second)
	if j.State != "done" || j.Done != 2 {
		t.Fatalf("job: %+v; want done 2 of 2", j)
	}
	res := jobResults(t, p.url, id)
	if res[0].Reason != "smtp_not_checked" || res[1].Status != "undeliverable" || res[1].Reason != "invalid_syntax" {
		t.Errorf("job results %+v; want smtp_not_checked, then undeliverable/invalid_syntax", res)
	}
	if q, c := zone.Queries(), srv.Connections(); q != 0 || c != 0 {
		t.Errorf("offline: %d DNS queries and %d SMTP connections; want none", q, c)
	}
}
