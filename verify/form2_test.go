package verify

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
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

// TestRandomAddressTakesTheFlushsShape: the random addresses of a flush
// (its front, its canary, a trailing probe's) are drawn in the shape of
// the flush's own addresses of the domain, not of the domain's first
// ones: a list whose first addresses are of one shape (first.last) and
// later ones of another (a name and a year), at an honest server; every
// random address in a transaction with addresses of the list has the
// shape of one of them.
func TestRandomAddressTakesTheFlushsShape(t *testing.T) {
	var locals []string
	for i, f := range []string{"jane", "john", "mary", "bob", "lena", "maria", "pieter", "sean", "omar"} {
		locals = append(locals, f+".roe", fmt.Sprintf("%s%d", f, 1970+i))
	}
	slices.SortFunc(locals, func(a, b string) int { return cmp.Compare(kindSeq(b), kindSeq(a)) }) // the names with a year first
	listed := map[string]bool{}
	for _, l := range locals {
		listed[l+"@sorted.com"] = true
	}
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		type tx struct{ listed, random []string }
		var txs []*tx
		cur := map[int]*tx{}
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"MAIL": func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
				mu.Lock()
				defer mu.Unlock()
				cur[c.Index] = &tx{}
				txs = append(txs, cur[c.Index])
				return testsmtp.R(250, "2.1.0", "Ok")
			},
			"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
				mu.Lock()
				defer mu.Unlock()
				a := rawAddress(cmd.Arg)
				x := cur[c.Index]
				if localOf(a) == "postmaster" { // the flush's control (harvest.go), not a random address
					return testsmtp.R(250, "2.1.5", "Ok")
				}
				if !listed[a] {
					x.random = append(x.random, kindSeq(localOf(a)))
					return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
				}
				x.listed = append(x.listed, kindSeq(localOf(a)))
				if everyThirdMissing(slices.Index(locals, localOf(a))) {
					return testsmtp.R(250, "2.1.5", "Ok")
				}
				return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
			},
		}}
		formServer(t, formWorld{dom: "sorted.com", locals: locals, exists: everyThirdMissing, setup: func(v *Verifier) {
			v.MaxRcpts = 6
			paced(v)
		}}, srv)
		mu.Lock()
		defer mu.Unlock()
		checked := 0
		for i, x := range txs {
			if len(x.listed) == 0 {
				continue
			}
			for _, k := range x.random {
				checked++
				if !slices.Contains(x.listed, k) {
					t.Errorf("transaction %d: a random address of shape %q among addresses of shapes %v", i+1, k, x.listed)
				}
			}
		}
		if checked < 4 {
			t.Errorf("%d random addresses in transactions with addresses of the list; want fronts and canaries", checked)
		}
	})
}
