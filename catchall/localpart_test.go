package catchall

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
)

// dotAtom is RFC 5322's dot-atom over the characters drawn.
var dotAtom = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)

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
			if bits < minBits || len(l) > maxLocal+2 || !dotAtom.MatchString(l) || seen[l] {
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
// nearly every one, no run of four consonants in most.
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
		if !strings.ContainsAny(l, "aeiou") {
			vowelless++
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
	if vowelless > 0 || clusters > n/10 {
		t.Errorf("%d draws with no vowel, %d with four consonants in a row, of %d", vowelless, clusters, n)
	}
}

// TestProbeAddressFresh: each probe of a question draws a new address,
// in the shape of its Like; only an address the server deferred is asked
// again, by a later probe, once it has waited as long as the server
// seems to want: twice as long as one deferred anew, or as long as one
// answered.
func TestProbeAddressFresh(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	d := Detector{now: func() time.Time { return now }}
	at := func(s float64) { now = t0.Add(time.Duration(s * float64(time.Second))) }
	q := Question{Domain: "example.com", Host: "mx", Like: "jane.roe"}
	k := key{q.Domain, q.Host}
	grey := func(a string) *smtpprobe.Result {
		return &smtpprobe.Result{Address: a, Outcome: smtpprobe.Greylisted, Reply: &smtpprobe.Reply{Code: 450}}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a, b := d.probeAddress(q), d.probeAddress(q)
	if a == b || !strings.HasSuffix(a, "@example.com") || strings.Count(a, ".") != 2 {
		t.Fatalf("two probes drew %q and %q", a, b)
	}
	d.settle(k, grey(a), Unknown)
	d.settle(k, &smtpprobe.Result{Address: b, Outcome: smtpprobe.Rejected, Reply: &smtpprobe.Reply{Code: 550}}, Unknown)
	if c := d.probeAddress(q); c != a {
		t.Fatalf("after a was deferred the next probe drew %q", c)
	}
	if c := d.probeAddress(q); c == a || c == b {
		t.Fatalf("an address was lent twice, or a refused one asked again: %q", c)
	}
	at(1)
	d.settle(k, grey(a), Unknown) // deferred anew after 1s
	at(1.5)
	if c := d.probeAddress(q); c == a {
		t.Fatalf("a asked again 1.5s after its deferral, where 1s was too early")
	}
	at(2)
	if c := d.probeAddress(q); c != a {
		t.Fatalf("a not asked again 2s after its deferral: %q", c)
	}
	d.settle(k, &smtpprobe.Result{Address: a, Outcome: smtpprobe.MailboxNotFound, Reply: &smtpprobe.Reply{Code: 550}}, No)
	c := d.probeAddress(q)
	if c == a {
		t.Fatalf("a answered address was asked again")
	}
	d.settle(k, grey(c), Unknown)
	at(3)
	if x := d.probeAddress(q); x == c {
		t.Fatalf("c asked again 1s after its deferral, where one answered after 2s")
	}
	at(4)
	if x := d.probeAddress(q); x != c {
		t.Fatalf("c not asked again 2s after its deferral: %q", x)
	}
}
