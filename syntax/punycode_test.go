package syntax

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// randomLabel returns a short string of code points from scripts that
// IDNs use, with some ASCII.
func randomLabel(rng *rand.Rand) string {
	ranges := [][2]rune{{'a', 'z'}, {'0', '9'}, {0xE0, 0xFF}, {0x3B1, 0x3C9}, {0x430, 0x44F}, {0x4E00, 0x4FFF}, {0x3041, 0x3096}, {0xAC00, 0xAC40}, {0x5D0, 0x5EA}, {0x627, 0x64A}, {0x905, 0x939}, {0x1F600, 0x1F64F}}
	var b strings.Builder
	for range 1 + rng.IntN(12) {
		r := ranges[rng.IntN(len(ranges))]
		b.WriteRune(r[0] + rune(rng.IntN(int(r[1]-r[0]+1))))
	}
	return b.String()
}

// TestPunycodeAgainstXNet: our allocation-free codec agrees with x/net's
// on random labels, and on mutations of their encodings.
func TestPunycodeAgainstXNet(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var runes [maxLabel]rune
	var enc [maxLabel]byte
	for range 20000 {
		u := randomLabel(rng)
		a, err := idna.Punycode.ToASCII(u)
		if err != nil || !strings.HasPrefix(a, "xn--") || len(a) > maxLabel {
			continue
		}
		p := a[4:]
		n, ok := punyDecode(p, runes[:])
		if !ok || string(runes[:n]) != u {
			t.Fatalf("punyDecode(%q) = %q, %v; want %q", p, string(runes[:n]), ok, u)
		}
		m, ok := punyEncode([]rune(u), enc[:])
		if !ok || string(enc[:m]) != p {
			t.Fatalf("punyEncode(%q) = %q, %v; want %q", u, enc[:m], ok, p)
		}
		// A mutation: decoders must agree on whether it decodes, and to what.
		b := []byte(p)
		b[rng.IntN(len(b))] = "abcxyz0189-"[rng.IntN(11)]
		mut := string(b)
		want, xerr := idna.Punycode.ToUnicode("xn--" + mut)
		n, ok = punyDecode(mut, runes[:])
		// x/net turns a decoded surrogate into U+FFFD where we decline;
		// either way no U-label results.
		if xerr == nil && want != "xn--"+mut && utf8.RuneCountInString(want) <= maxLabel && !strings.ContainsRune(want, utf8.RuneError) {
			if !ok || string(runes[:n]) != want {
				t.Errorf("punyDecode(%q) = %q, %v; x/net %q", mut, string(runes[:n]), ok, want)
			}
		}
	}
}

// TestFastPathALabels: on addresses with A-labels, the fast path accepts
// what the general path accepts (unless a label is right-to-left, or has
// code points that combine, which it leaves to the general path) and gives
// the same Address.
func TestFastPathALabels(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	accepted := 0
	for range 20000 {
		u := randomLabel(rng)
		a, err := idna.Punycode.ToASCII(u)
		if err != nil || !strings.HasPrefix(a, "xn--") {
			continue
		}
		if rng.IntN(4) == 0 {
			b := []byte(a)
			b[4+rng.IntN(len(b)-4)] = "abz09-"[rng.IntN(6)]
			a = string(b)
		}
		if rng.IntN(3) == 0 {
			a = strings.ToUpper(a)
		}
		s := "jane.doe+tag@mail." + a + ".de"
		for _, p := range []Policy{Default, Strict} {
			ga, gerr := p.parse(s)
			fa, ok := p.parseFast(s)
			switch {
			case ok && (gerr != nil || fa != ga):
				t.Fatalf("%q: fast %#v, general %#v %v", s, fa, ga, gerr)
			case !ok && gerr == nil && !isRTL(ga.Domain()) && nfcQuick(ga.Domain()):
				t.Errorf("%q: the general path accepts, the fast path declines", s)
			}
			if ok {
				accepted++
			}
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d addresses took the fast path", accepted)
	}
}

func TestParseALabelAllocs(t *testing.T) {
	for _, in := range []string{"jane@xn--bcher-kva.de", "a.b@mail.xn--mnchen-3ya.de", "x@XN--BCHER-KVA.example.com"} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := Parse(in); err != nil {
				t.Fatal(err)
			}
		}); n != 1 {
			t.Errorf("Parse(%q) allocates %v times, want 1 (the U-label form it returns)", in, n)
		}
	}
}
