package verify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The canary review's finding 4: a catch-all that refuses, with 5.1.1,
// only the addresses that look like our random ones (the canary, the
// catch-all probe) and accepts everyone else has every canary refused,
// so every acceptance before it seems proven. The random local part had
// a fixed public form (24 characters, a digit every third place, no
// vowel) and was the same for every probe of a (domain, host). It is now
// drawn afresh each time in the shape of an address of the domain
// (catchall.RandomLocalPart). These servers judge by what a server could
// read from the code: each must end with no wrong verdict.

// formRules are recognisers a server could derive from the code, old
// and new: each refuses a local part it takes for ours.
var formRules = map[string]*regexp.Regexp{
	// The old form, as catchall.IsProbe recognised it.
	"old form": regexp.MustCompile(`^([b-df-hj-np-tv-z]{2}[0-9]){8}@`),
	// Its looser reads: a digit every third place, 24 characters of
	// letters and digits, a long run with no vowel.
	"digit every third": regexp.MustCompile(`^([a-z]{2}[0-9]){4,}@`),
	"24 alphanumerics":  regexp.MustCompile(`^[a-z0-9]{24}@`),
	"no vowel, 10+":     regexp.MustCompile(`^[b-df-hj-np-tv-z0-9]{10,}@`),
	// Letters and digits alternating in groups, at any length.
	"mixed every few": regexp.MustCompile(`^([a-z]{1,3}[0-9]){5,}@`),
}

// TestCanaryRecognisedByForm: a catch-all that refuses, with 5.1.1, any
// local part a recogniser of formRules matches and accepts every other
// address. No nonexistent mailbox may come out deliverable.
func TestCanaryRecognisedByForm(t *testing.T) {
	for name, re := range formRules {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				refused := 0
				canaryCase(t, "formcatch.com", func(_ *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
					if re.MatchString(a) {
						refused++
						return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
					}
					return testsmtp.R(250, "2.1.5", "Ok")
				}, nil)
				t.Logf("%d refused by form", refused)
			})
		})
	}
}

// TestCanaryRecognisedByEntropy: the same catch-all, judging by a looser
// rule any such server could use: a local part of 16 or more characters
// with no vowel is refused. Same outcome as by form.
func TestCanaryRecognisedByEntropy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		canaryCase(t, "entcatch.com", func(_ *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			local, _, _ := strings.Cut(a, "@")
			if len(local) >= 16 && !strings.ContainsAny(local, "aeiouy") {
				return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
			}
			return testsmtp.R(250, "2.1.5", "Ok")
		}, nil)
	})
}

// shapeWorld is a list of addresses in the shapes people's addresses
// take, at one honest server: what it hosts (i%3 != 2) and the random
// addresses it was asked (any other recipient), in order.
type shapeWorld struct {
	addrs  []string
	known  map[string]bool
	random []string
}

var shapeLocals = []string{
	"jane.roe", "john.smith", "mary_ann", "bob-jones", "k.tanaka", "lena84",
	"maria.garcia2", "pieter.van.dijk", "li.wei", "oconnor", "s.ng", "alexandra.papadopoulou",
	"tom_h", "ines-2019", "rajesh.k", "jo", "anna.maria.rossi", "dieter.mueller",
}

func runShapeWorld(t *testing.T, dom string) *shapeWorld {
	t.Helper()
	sw := &shapeWorld{known: map[string]bool{}}
	for i, l := range shapeLocals {
		a := l + "@" + dom
		sw.known[a] = i%3 != 2
		sw.addrs = append(sw.addrs, a)
	}
	w, _ := reviewWorld(t, sw.known, map[string]domainRule{dom: func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		if _, listed := s.known[a]; !listed {
			sw.random = append(sw.random, a)
		}
		return s.honest(a)
	}})
	v := w.verifier()
	v.PerHostRate = 1000
	paced(v)
	v.MaxRcpts = 5 // several batches, each with its canary
	paced(v)
	for _, r := range v.VerifyAll(t.Context(), sw.addrs) {
		if r.Status == Deliverable && !sw.known[r.Input] || r.Status == Undeliverable && sw.known[r.Input] {
			t.Errorf("%s (exists %v): %s/%s", r.Input, sw.known[r.Input], r.Status, r.Reason)
		}
	}
	return sw
}

// runs splits a local part into its runs of letters and digits and its
// separators: "jane.roe7" is [a4 . a3 07].
func runs(local string) []string {
	var out []string
	for i := 0; i < len(local); i++ {
		k := "a"
		switch c := local[i]; {
		case c >= '0' && c <= '9':
			k = "0"
		case c == '.' || c == '_' || c == '-':
			out = append(out, string(c))
			continue
		}
		if n := len(out); n > 0 && out[n-1][0] == k[0] {
			out[n-1] += k
			continue
		}
		out = append(out, k)
	}
	return out
}

// kindsOf is the sequence of runs without their lengths.
func kindsOf(rs []string) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteByte(r[0])
	}
	return b.String()
}

// TestRandomAddressTakesTheDomainsShape: each random address a server is
// asked has the shape of one of the domain's addresses in the list (the
// same separators and runs of letters and digits, each at least as long
// as the model's less one; longer only where the model is too short to
// hold the randomness), and is asked once: no address of ours comes
// back for a server to learn.
func TestRandomAddressTakesTheDomainsShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := runShapeWorld(t, "shapes.com")
		if len(sw.random) < 3 {
			t.Fatalf("%d random addresses asked; want a probe and canaries", len(sw.random))
		}
		seen := map[string]int{}
		shapes := map[string]bool{}
		for _, a := range sw.random {
			seen[a]++
			local, _, _ := strings.Cut(a, "@")
			rs := runs(local)
			shapes[kindsOf(rs)] = true
			fits := slices.ContainsFunc(shapeLocals, func(m string) bool {
				ms := runs(m)
				if kindsOf(ms) != kindsOf(rs) {
					return false
				}
				for i := range ms {
					if len(rs[i]) < len(ms[i])-1 {
						return false
					}
				}
				return len(local) <= max(len(m)+len(ms), 24)
			})
			if !fits {
				t.Errorf("random address %q has the shape of none of the list's", a)
			}
		}
		for a, n := range seen {
			if n > 1 {
				t.Errorf("random address %q asked %d times", a, n)
			}
		}
		if len(shapes) < 2 {
			t.Errorf("%d random addresses, all of one shape %v, from a list of many", len(sw.random), shapes)
		}
		t.Logf("random addresses: %v", sw.random)
	})
}

// TestRandomAddressShapeStatistics: over many random addresses drawn
// for domains with a list of many shapes, the random addresses take
// only the list's shapes, several of them, none in more than three
// quarters of the draws (the engine draws each like one of the domain's
// first addresses, chosen at random; the commonest shape, name.surname,
// is 8 of the list's 18 and about 3 of its first 8, so a share above
// three quarters in some 80 draws would take a deviation of more than
// 7 standard deviations): no one shape marks them.
func TestRandomAddressShapeStatistics(t *testing.T) {
	const worlds = 12
	count := map[string]int{}
	total := 0
	for i := range worlds {
		synctest.Test(t, func(t *testing.T) {
			sw := runShapeWorld(t, fmt.Sprintf("stat%d.com", i))
			for _, a := range sw.random {
				local, _, _ := strings.Cut(a, "@")
				count[kindsOf(runs(local))]++
				total++
			}
		})
	}
	// The engine keeps the first maxLocals local parts of a domain, in
	// the order they reach it, as models.
	listShapes := map[string]bool{}
	for _, l := range shapeLocals {
		listShapes[kindsOf(runs(l))] = true
	}
	for s, n := range count {
		if !listShapes[s] {
			t.Errorf("shape %q, in none of the list's addresses, taken %d times", s, n)
		}
		if n*4 > total*3 {
			t.Errorf("shape %q taken %d times of %d", s, n, total)
		}
	}
	if len(count) < 3 {
		t.Errorf("%d shapes in %d random addresses: %v", len(count), total, count)
	}
	t.Logf("%d random addresses, shapes %v", total, count)
}
