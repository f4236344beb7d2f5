package verify

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestUncontrolledRefusalSaysWhy: a domain with one address, which does
// not exist, at a server that refuses postmaster@ (as many do, RFC 5321
// or not). Its 5.1.1 has no control after it and ends unknown/blocked;
// the result's error says that the server refused postmaster@, not
// nothing. With postmaster@ accepted, the same refusal counts.
func TestUncontrolledRefusalSaysWhy(t *testing.T) {
	for _, pm := range []bool{false, true} {
		t.Run(map[bool]string{false: "postmaster_refused", true: "postmaster_accepted"}[pm], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				known := map[string]bool{}
				w, _ := reviewWorld(t, known, map[string]domainRule{"lone.com": func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
					if pm && strings.HasPrefix(a, "postmaster@") {
						return testsmtp.R(250, "2.1.5", "Ok")
					}
					return s.honest(a)
				}})
				r, err := w.verifier().Verify(t.Context(), "nobody@lone.com")
				if err != nil {
					t.Fatal(err)
				}
				if pm {
					if r.Status != Undeliverable || r.Reason != ReasonMailboxNotFound {
						t.Fatalf("got %s/%s (%s), want undeliverable/mailbox_not_found", r.Status, r.Reason, r.Error)
					}
					return
				}
				var ue *uncontrolledError
				if r.Status != Unknown || r.Reason != ReasonBlocked || !errors.As(r.Err, &ue) || !ue.PostmasterRefused ||
					!strings.Contains(r.Error, "postmaster@lone.com") {
					t.Fatalf("got %s/%s, error %q, want unknown/blocked saying postmaster@lone.com was refused", r.Status, r.Reason, r.Error)
				}
			})
		})
	}
}
