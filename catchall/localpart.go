package catchall

import (
	"crypto/rand"
	"math"
	"math/big"
	"strings"
)

// The random address is the catch-all question, and on a server that
// pipelines it is also the canary whose refusal proves the acceptances
// before it (package verify). A server that could tell it from the
// addresses it is asked to judge could refuse it alone, seem to judge,
// and have its blind acceptances proven. So it has no fixed form: each
// one is drawn afresh, shaped like an address of the domain being asked
// about (its separators, its runs of letters and digits, their lengths
// give or take a little), with letters that read like syllables (a
// vowel or two after a consonant or two, mostly), and enough randomness
// (minBits) that it exists by chance with negligible probability. The
// randomness comes from where a server cannot see it: which shape, which
// lengths, which letters; none of it from a form a server could match.
//
// An accepted random address is only ever read as "accepts everyone"
// (catch-all Yes, or unknown): one that existed by chance costs a
// verdict, never makes one wrong.

// minBits is the least surprisal of a drawn local part, in bits: no
// local part is drawn with a probability above 2^-minBits, so at a
// domain of a million mailboxes a draw names one of them with a
// probability under 1e-6.
const minBits = 40

// maxExtra is the most bits drawn past minBits where a shape is too
// short to hold them: a random number up to it, so that the lengthened
// ones have no length of their own either.
const maxExtra = 16

// maxLocal is the longest local part drawn (RFC 5321 allows 64).
const maxLocal = 48

// vowels and consonants, with rough weights of their use in names, every
// letter possible in every place (a letter a server would never see from
// us would tell it the rest are ours).
var (
	vowels     = weighted{"aeiou", []int{8, 10, 7, 7, 3}}
	consonants = weighted{"bcdfghjklmnpqrstvwxyz", []int{2, 3, 4, 2, 2, 3, 1, 2, 5, 3, 6, 2, 1, 6, 6, 7, 1, 2, 1, 2, 1}}
)

// pVowel is the probability, in percent, that the next letter is a vowel:
// after two or more consonants in a row (or one that began the run), one,
// at the start of a run of letters, after one vowel, after two or more.
var pVowel = [5]int{93, 70, 25, 10, 3}

type weighted struct {
	letters string
	weights []int
}

func (w weighted) total() int {
	n := 0
	for _, x := range w.weights {
		n += x
	}
	return n
}

// draw picks a letter and returns it with its probability.
func (w weighted) draw(g *gen) (byte, float64) {
	t := w.total()
	r := g.intn(t)
	for i, x := range w.weights {
		if r < x {
			return w.letters[i], float64(x) / float64(t)
		}
		r -= x
	}
	panic("unreachable")
}

// gen draws from crypto/rand and counts the surprisal of what it drew.
type gen struct{ bits float64 }

func (g *gen) intn(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail (Go 1.24)
	}
	return int(v.Int64())
}

// letter draws the next letter of a run whose last letters were run
// (vowels positive, consonants negative, 0 at its start) and counts its
// surprisal.
func (g *gen) letter(run int) (byte, int) {
	p := pVowel[max(-2, min(2, run))+2]
	var c byte
	var q float64
	if g.intn(100) < p {
		c, q = vowels.draw(g)
		q *= float64(p) / 100
		run = max(run, 0) + 1
	} else {
		c, q = consonants.draw(g)
		q *= float64(100-p) / 100
		if run == 0 {
			run = -1 // a consonant that begins a run is followed as two are
		}
		run = min(run, 0) - 1
	}
	g.bits -= math.Log2(q)
	return c, run
}

// A part of a shape: a run of letters or digits of some length, or a
// separator.
type part struct {
	kind byte // 'a' letters, '0' digits, or the separator itself
	n    int
}

// shapeOf reads the shape of a local part: its runs of letters and
// digits and its separators ('.', '_', '-'); any other character counts
// as a letter (a quoted or non-ASCII local part is drawn in ASCII).
func shapeOf(local string) []part {
	var ps []part
	for i := 0; i < len(local); i++ {
		k := local[i]
		switch {
		case k >= '0' && k <= '9':
			k = '0'
		case k == '.' || k == '_' || k == '-':
		default:
			k = 'a'
		}
		if n := len(ps); n > 0 && ps[n-1].kind == k && k != '.' && k != '_' && k != '-' {
			ps[n-1].n++
			continue
		}
		ps = append(ps, part{kind: k, n: 1})
	}
	return ps
}

// generic are the shapes drawn where no address of the domain is known:
// the ways people's addresses are mostly written (name.surname, a name
// and digits, ...). Lengths are drawn around these.
var generic = []string{"jane.roe", "janeroe", "jane_roe", "j.roe", "jroe", "jane.roe7", "jane84", "jane-roe", "jane.m.roe", "roe.jane"}

// RandomLocalPart returns a fresh random local part shaped like one of
// like (the local parts of addresses of the domain it is asked about),
// chosen at random: the same separators and runs of letters and digits,
// each run as long as the model's give or take one, lengthened where
// needed so that the draw has at least minBits bits of randomness. With
// no like, the shape is one of the common forms of personal addresses,
// with random lengths. The letters read like syllables. Each call draws
// anew; nothing about the result, not its length nor its characters,
// is fixed.
func RandomLocalPart(like ...string) string {
	l, _ := draw(like)
	return l
}

// draw draws a local part as RandomLocalPart does and returns it with
// the bits of randomness drawn for its characters.
func draw(like []string) (string, float64) {
	g := &gen{}
	var model string
	var jitter int
	if len(like) > 0 {
		model, jitter = like[g.intn(len(like))], 1
	}
	ps := shapeOf(model)
	if !hasRuns(ps) {
		model, jitter = generic[g.intn(len(generic))], 2
		ps = shapeOf(model)
	}
	for i := range ps {
		if p := &ps[i]; p.kind == 'a' || p.kind == '0' {
			p.n = max(1, p.n+g.intn(2*jitter+1)-jitter)
		}
	}
	return g.fill(ps, minBits+float64(g.intn(maxExtra+1))), g.bits
}

func hasRuns(ps []part) bool {
	for _, p := range ps {
		if p.kind == 'a' || p.kind == '0' {
			return true
		}
	}
	return false
}

// fill draws the characters of shape ps, lengthening its runs (letters
// first, the shortest first) until the draw has at least target bits,
// and writes it as a dot-atom.
func (g *gen) fill(ps []part, target float64) string {
	runs := make([][]byte, len(ps))
	states := make([]int, len(ps))
	grow := func(i int) {
		if ps[i].kind == '0' {
			runs[i] = append(runs[i], byte('0'+g.intn(10)))
			g.bits += math.Log2(10)
			return
		}
		var c byte
		c, states[i] = g.letter(states[i])
		runs[i] = append(runs[i], c)
	}
	total := 0
	for i, p := range ps {
		if p.kind == 'a' || p.kind == '0' {
			for range p.n {
				grow(i)
			}
		}
		total += p.n
	}
	for g.bits < target && total < maxLocal {
		grow(g.shortest(ps, runs))
		total++
	}
	var b strings.Builder
	for i, p := range ps {
		if p.kind == 'a' || p.kind == '0' {
			b.Write(runs[i])
			continue
		}
		// A separator: never first, last or doubled (a dot-atom).
		if s := b.String(); s != "" && !strings.ContainsRune("._-", rune(s[len(s)-1])) && hasRuns(ps[i+1:]) {
			b.WriteByte(p.kind)
		}
	}
	return b.String()
}

// shortest returns the run to lengthen: the shortest run of letters, or
// of digits where there are no letters.
func (g *gen) shortest(ps []part, runs [][]byte) int {
	best := -1
	for i, p := range ps {
		if p.kind != 'a' && p.kind != '0' {
			continue
		}
		better := best < 0 ||
			p.kind == 'a' && ps[best].kind == '0' ||
			p.kind == ps[best].kind && len(runs[i]) < len(runs[best])
		if better {
			best = i
		}
	}
	return best
}
