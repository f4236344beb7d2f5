package catchall

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
)

// dotAtom is RFC 5322's dot-atom (ASCII atext).
var dotAtom = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")

// kinds returns the sequence of parts of a local part: 'a' for a run of
// letters, '0' for digits, separators as they are.
func kinds(local string) string {
	var b strings.Builder
	for _, p := range shapeOf(local) {
		b.WriteByte(p.kind)
	}
	return b.String()
}

// TestRandomLocalPartTakesTheShape: a local part drawn like an address
// has that address's separators and runs of letters and digits, in
// order, each as long as the model's give or take one, or longer where
// the model is too short to hold minBits; every draw has minBits bits,
// is a dot-atom, and none repeats.
func TestRandomLocalPartTakesTheShape(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, model := range []string{"jane.roe", "j.roe", "jroe", "jane_roe-smith", "john.smith1985", "u5", "1234567", "christopher.alexander.montgomery", "a.b.c", "x", `"odd local"`, "Jürgen"} {
		for range 300 {
			l, bits := draw([]string{model})
			if bits < minBits || len(l) > maxLocal || !dotAtom.MatchString(l) || seen[l] {
				t.Fatalf("like %q: drew %q (%.1f bits): short of randomness, too long, not a dot-atom or repeated", model, l, bits)
			}
			seen[l] = true
			if got, want := kinds(l), kinds(model); got != want && model != `"odd local"` {
				t.Fatalf("like %q: drew %q, shape %q, want %q", model, l, got, want)
			}
			ms, ls := shapeOf(model), shapeOf(l)
			grown := false
			for i := range min(len(ms), len(ls)) {
				switch d := ls[i].n - ms[i].n; {
				case d < -1:
					t.Fatalf("like %q: drew %q, a run shorter by %d", model, l, -d)
				case d > 1:
					grown = true
				}
			}
			if grown && bits > minBits+maxExtra+11 { // one letter is at most 11 bits
				t.Fatalf("like %q: drew %q (%.1f bits), lengthened past need", model, l, bits)
			}
		}
	}
}

// TestRandomLocalPartHasNoForm: drawn with no model, local parts take
// many shapes and lengths, and letters read like syllables: a vowel in
// nearly every one (and in every long one), no run of four consonants in
// most.
func TestRandomLocalPartHasNoForm(t *testing.T) {
	t.Parallel()
	shapes, lengths := map[string]int{}, map[int]int{}
	vowelless, clusters := 0, 0
	const n = 2000
	for range n {
		l := RandomLocalPart()
		if !dotAtom.MatchString(l) {
			t.Fatalf("drew %q, not a dot-atom", l)
		}
		shapes[kinds(l)]++
		lengths[len(l)]++
		if !strings.ContainsAny(strings.ToLower(l), "aeiou") {
			vowelless++
			if len(l) >= 16 {
				t.Errorf("drew %q: 16 characters or more and no vowel (the look TestCanaryRecognisedByEntropy refuses)", l)
			}
		}
		if regexp.MustCompile(`[b-df-hj-np-tv-z]{4}`).MatchString(l) {
			clusters++
		}
	}
	if len(shapes) < 6 || len(lengths) < 8 {
		t.Errorf("%d shapes and %d lengths in %d draws: a form to be recognised", len(shapes), len(lengths), n)
	}
	for s, k := range shapes {
		if k > n/3 {
			t.Errorf("shape %q in %d of %d draws", s, k, n)
		}
	}
	for l, k := range lengths {
		if k > n/4 {
			t.Errorf("length %d in %d of %d draws", l, k, n)
		}
	}
	// Short letter runs may draw no vowel by chance (jbt.lhr15, about one
	// draw in 200,000): a few are no form.
	if vowelless > n/500 || clusters > n/10 {
		t.Errorf("%d draws with no vowel, %d with four consonants in a row, of %d", vowelless, clusters, n)
	}
}

// TestProbeAddressFresh: each probe of a question draws a new address,
// in the shape of its Like; only a probe that goes with addresses the
// server deferred (Retry) takes an address it deferred, the one deferred
// first first, and an address answered for good is not asked again.
func TestProbeAddressFresh(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	d := Detector{now: func() time.Time { return now }}
	q := Question{Domain: "example.com", Host: "mx", Like: "jane.roe"}
	retry := q
	retry.Retry = true
	k := key{q.Domain, q.Host}
	grey := func(a string) *smtpprobe.Result {
		return &smtpprobe.Result{Address: a, Outcome: smtpprobe.Greylisted, Reply: &smtpprobe.Reply{Code: 450}}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a, b := d.probeAddress(q), d.probeAddress(retry)
	if a == b || !strings.HasSuffix(a, "@example.com") || strings.Count(a, ".") != 2 {
		t.Fatalf("two probes drew %q and %q", a, b)
	}
	d.settle(k, grey(a), Unknown)
	now = now.Add(time.Second)
	d.settle(k, grey(b), Unknown)
	c := d.probeAddress(q)
	if c == a || c == b {
		t.Fatalf("a probe not on a retry drew a deferred address")
	}
	d.settle(k, &smtpprobe.Result{Address: c, Outcome: smtpprobe.Rejected, Reply: &smtpprobe.Reply{Code: 550}}, Unknown)
	if x := d.probeAddress(retry); x != a {
		t.Fatalf("a retry drew %q, not the address deferred first", x)
	}
	now = now.Add(time.Second)
	d.settle(k, grey(a), Unknown) // deferred anew: keeps its place
	if x := d.probeAddress(retry); x != a {
		t.Fatalf("a retry drew %q, not the address deferred first", x)
	}
	d.settle(k, &smtpprobe.Result{Address: a, Outcome: smtpprobe.MailboxNotFound, Reply: &smtpprobe.Reply{Code: 550}}, No)
	if x := d.probeAddress(retry); x != b {
		t.Fatalf("after a was answered a retry drew %q, not b", x)
	}
	if x := d.probeAddress(retry); x == a || x == b || x == c {
		t.Fatalf("an answered, lent or refused address was drawn again: %q", x)
	}
}

// TestGenericShapesHoldTheirBits: every shape drawn with no model (and
// where a model's cannot hold minBits) holds minBits within maxLocal
// octets, so draw's fallback always ends.
func TestGenericShapesHoldTheirBits(t *testing.T) {
	t.Parallel()
	for _, m := range generic {
		for range 300 {
			g := &gen{}
			if l, ok := g.shaped(shapeOf(m), 2); !ok || len(l) > maxLocal || !dotAtom.MatchString(l) {
				t.Fatalf("generic %q: drew %q (%.1f bits, ok %v)", m, l, g.bits, ok)
			}
		}
	}
}

// TestRefusesSyntax: which refusals of a random address say it is
// malformed (and so nothing of mailboxes).
func TestRefusesSyntax(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code int
		enh  smtpprobe.EnhancedCode
		text string
		want bool
	}{
		{553, smtpprobe.EnhancedCode{Class: 5, Subject: 1, Detail: 3}, "Local part too long", true},
		{550, smtpprobe.EnhancedCode{Class: 5, Subject: 1, Detail: 3}, "Bad address", true},
		{501, smtpprobe.EnhancedCode{}, "Syntax error", true},
		{553, smtpprobe.EnhancedCode{}, "Invalid address syntax", true},
		{553, smtpprobe.EnhancedCode{}, "sorry, no mailbox here by that name", false},
		{553, smtpprobe.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, "invalid recipient", false},
		{550, smtpprobe.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, "User unknown", false},
		{450, smtpprobe.EnhancedCode{Class: 4, Subject: 1, Detail: 3}, "try later", false},
	} {
		r := &smtpprobe.Result{Reply: &smtpprobe.Reply{Code: c.code, Enhanced: c.enh, Lines: []string{c.text}}}
		if got := RefusesSyntax(r); got != c.want {
			t.Errorf("%d %v %q: RefusesSyntax %v, want %v", c.code, c.enh, c.text, got, c.want)
		}
	}
	if RefusesSyntax(&smtpprobe.Result{}) {
		t.Error("no reply: RefusesSyntax true")
	}
}

// TestDrawHoldsItsBitsAtTheLimit: models of 64 octets that are mostly
// separators leave no room for 40 bits; the draw gives way to a generic
// shape rather than break the promise or the limit.
func TestDrawHoldsItsBitsAtTheLimit(t *testing.T) {
	t.Parallel()
	for _, m := range []string{
		"a" + strings.Repeat("-", 62) + "b",
		"ab" + strings.Repeat("._", 30) + "c",
		strings.Repeat("x+", 32),
		strings.Repeat("7'", 32),
	} {
		for range 200 {
			l, bits := draw([]string{m})
			if bits < minBits || len(l) > maxLocal || !dotAtom.MatchString(l) {
				t.Fatalf("like %q: drew %q (%.1f bits, %d octets)", m, l, bits, len(l))
			}
		}
	}
}
