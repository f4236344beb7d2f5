package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestAcceptFirstOfDomainInFlush: the server accepts the first k RCPTs of
// each domain within each flush blindly (a per-domain count that starts
// over with each burst of commands, told apart here by their arrival
// time) and judges the rest; three domains interleaved. In the "others"
// variant it judges every RCPT of the domain the flush begins with, so a
// random address at the front of a flush is refused and shows the host
// judging, and only the other domains' first recipients are blind. Only
// a front of the domain itself at the flush's front shows that its first
// recipients in that flush were judged (hostRun.fronted): a judged
// answer of the domain in an earlier flush of the transaction, with one
// front for the whole flush, would not. The test guards against fronting
// a flush once for all its domains but those new to the transaction (an
// idea of the cost review, dropped).
func TestAcceptFirstOfDomainInFlush(t *testing.T) {
	for _, others := range []bool{false, true} {
		for _, k := range []int{1, 2} {
			t.Run(fmt.Sprintf("k=%d,others=%v", k, others), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var at time.Time
					var lead string // the domain the flush began with
					count := map[string]int{}
					positional(t, []string{"df1.com", "df2.com", "df3.com"}, 8, func(s *sharedServer) {
						s.srv.Latency = 10 * time.Millisecond
					}, func(_ *sharedServer, _ *testsmtp.Conn, a string) bool {
						_, d, _ := strings.Cut(a, "@")
						if now := time.Now(); !now.Equal(at) {
							at, lead = now, d
							clear(count)
						}
						count[d]++
						return count[d] <= k && !(others && d == lead)
					})
				})
			})
		}
	}
}
