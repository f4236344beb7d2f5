package verify

import (
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestCanaryRefusedAsMalformed: a catch-all that refuses every address
// it is not given in the list as malformed (bad address syntax, as a
// server holding to limits of its own would) and accepts the listed
// ones: the refusal says nothing of mailboxes, so no random address
// refused so proves an acceptance (catchall.RefusesSyntax), whatever the
// draw looks like.
func TestCanaryRefusedAsMalformed(t *testing.T) {
	var locals []string
	for _, f := range []string{"jane", "john", "mary", "peter", "anna", "liam", "sofia", "tom", "eva"} {
		locals = append(locals, f+".roe")
	}
	listed := map[string]bool{}
	for _, l := range locals {
		listed[l+"@strict.com"] = true
	}
	for _, refusal := range []testsmtp.Reply{
		testsmtp.R(501, "5.1.3", "Bad recipient address syntax"),
		testsmtp.R(553, "5.1.3", "Local part too long"),
		testsmtp.R(501, "", "Syntax error in parameters"),
		testsmtp.R(553, "", "Invalid address syntax"),
	} {
		t.Run(fmt.Sprintf("%d_%s", refusal.Code, refusal.Enhanced), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				formCase(t, formWorld{dom: "strict.com", locals: locals, exists: everyThirdMissing}, func(a string) testsmtp.Reply {
					if !listed[a] {
						return refusal
					}
					return testsmtp.R(250, "2.1.5", "Ok")
				})
			})
		})
	}
}
