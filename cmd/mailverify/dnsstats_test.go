package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestCheckDNSSummary: the run's DNS counts are a line on stderr, with
// the queries the lookups took.
func TestCheckDNSSummary(t *testing.T) {
	flags, _ := setup(t, testsmtp.Mailboxes("jane@example.test"))
	code, _, errs := runCLI(t, t.Context(), "", append(flags, "jane@example.test")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m := regexp.MustCompile(`mailverify: DNS: (\d+) queries, 0 timed out, 0 retries, \d+ waited`).FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("no DNS summary on stderr:\n%s", errs)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 { // the MX and the host's address at least
		t.Errorf("%s queries; want the lookups counted", m[1])
	}
}
