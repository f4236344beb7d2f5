package verify

import (
	"net"
	"net/netip"
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestEgressUnreachedHostIsNotConnectionFailed: the domain's first MX
// host blocks the only egress at MAIL FROM, and its second is dead
// (nothing listens). The first host was never asked about a mailbox:
// through another egress it may answer (RFC 5321 section 5.1: a host
// that could not be tried is not a host that failed). So every address
// ends unknown/blocked, which a cluster's worker hands to a worker with a
// healthy egress, not unknown/connection_failed at the dead host, which
// it stores as the answer.
func TestEgressUnreachedHostIsNotConnectionFailed(t *testing.T) {
	ban := testsmtp.R(550, "5.7.1", "Unfortunately, messages from [127.0.0.2] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).")
	w := newEgressWorld(t, "127.0.0.2", sourceRule{mail: &ban})
	dead, err := net.Listen("tcp", "127.0.3.9:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	dead.Close() // nothing listens there now
	w.res.MX["pool-mail.com"] = append(w.res.MX["pool-mail.com"], &net.MX{Host: "mx2.pool-mail.com", Pref: 20})
	w.res.IP["mx2.pool-mail.com"] = []netip.Addr{netip.MustParseAddr("127.0.3.9")}
	v, _ := w.verifier(t, 1, generous)
	res := w.check(t, v)
	for a, r := range res {
		if r.Status != Unknown || r.Reason != ReasonBlocked {
			t.Errorf("%s: %s/%s (%s); want unknown/blocked: the first MX host was not tried", a, r.Status, r.Reason, r.Error)
		}
	}
}
