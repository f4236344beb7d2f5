package verify

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/syntax"
)

// More of the review of the random address's new draw (see
// review_form_test.go): servers that tell it by its being new, and the
// validity of every recipient sent.

// TestReviewCanaryNeverAskedTwice: the random address is new at every
// probe but for one the server deferred; the addresses we verify come
// back after greylisting. A catch-all that greylists every new recipient
// (450 4.2.0 for five minutes) and, in a transaction where a recipient
// it had deferred came back and was accepted, refuses every recipient
// it has never seen (5.1.1): a new random address after the retried
// ones is refused, and would prove them.
func TestReviewCanaryNeverAskedTwice(t *testing.T) {
	var locals []string
	for _, f := range []string{"jane", "john", "mary", "bob", "lena", "maria", "pieter", "sean"} {
		for _, l := range []string{"roe", "smith", "berg"} {
			locals = append(locals, f+"."+l)
		}
	}
	// With MaxRcpts under the list, later batches bring new recipients
	// into transactions with retried ones: the server refuses those
	// (a lie about existing ones no client can see through; liar).
	for _, maxRcpts := range []int{0, 3, 6} {
		t.Run(fmt.Sprint("maxrcpts=", maxRcpts), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				first := map[string]time.Time{}
				repeat := map[int]bool{} // per connection: a retried recipient accepted in its transaction
				srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
					"MAIL": func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
						mu.Lock()
						defer mu.Unlock()
						repeat[c.Index] = false
						return testsmtp.R(250, "2.1.0", "Ok")
					},
					"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
						mu.Lock()
						defer mu.Unlock()
						a := strings.ToLower(rawAddress(cmd.Arg))
						if f, ok := first[a]; ok {
							if time.Since(f) >= 5*time.Minute {
								repeat[c.Index] = true
								return testsmtp.R(250, "2.1.5", "Ok")
							}
							return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
						}
						if repeat[c.Index] {
							return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
						}
						first[a] = time.Now()
						return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
					},
				}}
				formServer(t, formWorld{dom: "greyfresh.com", locals: locals, exists: everyThirdMissing, liar: maxRcpts > 0, setup: func(v *Verifier) {
					v.GreylistMaxWait = 30 * time.Minute
					v.MaxRcpts = maxRcpts
					paced(v)
				}}, srv)
			})
		})
	}
}

// TestReviewEveryRecipientIsValid: whatever the domain's addresses look
// like (an IDN domain, a subaddress, a quoted local part where the
// policy takes one, a non-ASCII one), every recipient the server is
// asked about is a valid address (RFC 5321 with RFC 6531, syntax.Strict)
// with the domain in A-labels and a local part of at most 64 octets,
// and every random address (one not in the list) is a plain dot-atom.
func TestReviewEveryRecipientIsValid(t *testing.T) {
	const dom = "xn--bcher-kva.com"
	locals := []string{"jane+news", `"john doe"`, "jürgen", "anna.maria", "o'brien", "x", "_tom_", "a-b-c", "9", "li.wei+shop", `"a..b"`, "ana-maria.lopez-garcia"}
	listed := map[string]bool{}
	for _, l := range locals {
		listed[l+"@"+dom] = true
	}
	for name, pol := range map[string]*syntax.Policy{"default": nil, "quoted": {AllowQuoted: true, AllowUTF8Local: true}} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var got []string
				formCase(t, formWorld{dom: dom, input: "bücher.com", locals: locals, exists: everyThirdMissing, liar: true, setup: func(v *Verifier) {
					v.Syntax = pol
				}}, func(a string) testsmtp.Reply {
					got = append(got, a)
					return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
				})
				random := 0
				for _, a := range got {
					p, err := syntax.Strict.Parse(a)
					switch {
					case err != nil:
						t.Errorf("RCPT %q: not a valid address: %v", a, err)
					case len(p.Local()) > 64 || p.DomainASCII() != dom:
						t.Errorf("RCPT %q: local part %d octets, domain %q", a, len(p.Local()), p.DomainASCII())
					case !listed[a]:
						random++
						if p.SMTPUTF8() || p.IsQuoted() || strings.Contains(p.Local(), "..") {
							t.Errorf("random address %q is not a plain dot-atom", a)
						}
					}
				}
				if random == 0 {
					t.Errorf("no random address asked among %d RCPTs", len(got))
				}
			})
		})
	}
}

// TestReviewCanaryFreshAfterCachedAcceptances: a server that keeps its
// answer to each recipient (a front end's recipient cache, as Postfix's
// verify(8) keeps its probes' results) and that, for a spell (its
// backend away), accepted every new recipient and cached that: when the
// engine asks again about addresses it was told 250 during the spell,
// their cached 250 comes back, and a random address drawn afresh is
// judged by the backend, now back, and refused, proving the cached blind
// acceptances. An address used once more (the one the spell accepted)
// would have been accepted from the cache as well.
func TestReviewCanaryFreshAfterCachedAcceptances(t *testing.T) {
	var locals []string
	for _, f := range []string{"jane", "john", "mary", "bob", "lena", "maria", "pieter", "sean"} {
		for _, l := range []string{"roe", "smith"} {
			locals = append(locals, f+"."+l)
		}
	}
	exists := map[string]bool{}
	for i, l := range locals {
		exists[l+"@cached.com"] = everyThirdMissing(i)
	}
	// The spell's transactions, and whether refusals are cached too (as
	// verify(8) does) or only acceptances.
	type spellCase struct {
		from, to int
		negative bool
	}
	for _, sc := range []spellCase{{2, 2, true}, {2, 3, true}, {3, 4, true}, {2, 2, false}, {2, 3, false}, {3, 4, false}} {
		t.Run(fmt.Sprintf("tx%d-%d/negative=%v", sc.from, sc.to, sc.negative), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				cache := map[string]testsmtp.Reply{}
				txn := 0 // transactions so far
				srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
					"MAIL": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
						mu.Lock()
						defer mu.Unlock()
						txn++
						return testsmtp.R(250, "2.1.0", "Ok")
					},
					"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
						mu.Lock()
						defer mu.Unlock()
						a := strings.ToLower(rawAddress(cmd.Arg))
						if r, ok := cache[a]; ok {
							return r
						}
						r := testsmtp.R(250, "2.1.5", "Ok")
						if (txn < sc.from || txn > sc.to) && !exists[a] {
							r = testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
						}
						if r.Code == 250 || sc.negative {
							cache[a] = r
						}
						return r
					},
				}}
				formServer(t, formWorld{dom: "cached.com", locals: locals, exists: everyThirdMissing, setup: func(v *Verifier) {
					v.MaxRcpts = 5
					paced(v)
				}}, srv)
			})
		})
	}
}
