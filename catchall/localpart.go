package catchall

import (
	"crypto/rand"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/mailverify/mailverify/smtpprobe"
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

// maxLocal is the longest local part drawn, in octets: RFC 5321's limit
// (section 4.5.3.1.1). A server may refuse a longer one as bad syntax,
// which says nothing about mailboxes.
const maxLocal = 64

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
	// caps is the model's case of a run of letters, letter by letter
	// (true: a capital); a letter past them is a capital where the
	// model's run is all capitals.
	caps []bool
}

// upper reports whether the k-th letter of run p is drawn a capital.
func (p part) upper(k int) bool {
	if k < len(p.caps) {
		return p.caps[k]
	}
	return len(p.caps) > 1 && !slices.Contains(p.caps, false)
}

// specials are the characters of RFC 5321's atext that are neither
// letters nor digits, with the dot of a dot-atom: a model's are kept as
// separators ('+' of a subaddress, '_', '\”, ...).
const specials = ".!#$%&'*+-/=?^_`{|}~"

// shapeOf reads the shape of a local part: its runs of letters and
// digits and its separators (specials); any other character (non-ASCII,
// or of a quoted local part) counts as a letter, one a character: such a
// local part is drawn in ASCII.
func shapeOf(local string) []part {
	var ps []part
	for _, c := range local {
		k := byte('a')
		switch {
		case c >= '0' && c <= '9':
			k = '0'
		case c < 0x80 && strings.ContainsRune(specials, c):
			k = byte(c)
		}
		if n := len(ps); n > 0 && ps[n-1].kind == k && (k == 'a' || k == '0') {
			ps[n-1].n++
		} else {
			ps = append(ps, part{kind: k, n: 1})
		}
		if p := &ps[len(ps)-1]; k == 'a' {
			p.caps = append(p.caps, c >= 'A' && c <= 'Z')
		}
	}
	return ps
}

// generic are the shapes drawn where no address of the domain is known:
// the ways people's addresses are mostly written (name.surname, a name
// and digits, ...). Lengths are drawn around these.
var generic = []string{"jane.roe", "janeroe", "jane_roe", "j.roe", "jroe", "jane.roe7", "jane84", "jane-roe", "jane.m.roe", "roe.jane"}

// RandomLocalPart returns a fresh random local part shaped like one of
// like (the local parts of addresses of the domain it is asked about),
// chosen at random: the same separators (any of specials) and runs of
// letters and digits, each run as long as the model's give or take one,
// its letters in the model's case, lengthened where needed so that the
// draw has at least minBits bits of randomness, and never longer than
// maxLocal octets. A model whose shape cannot hold minBits within
// maxLocal (mostly separators) is not followed: the draw then takes one
// of the common forms of personal addresses, with random lengths, as it
// does with no like. The letters read like syllables. Each call draws
// anew; nothing about the result, not its length nor its characters, is
// fixed. The result is an ASCII dot-atom.
func RandomLocalPart(like ...string) string {
	l, _ := draw(like)
	return l
}

// draw draws a local part as RandomLocalPart does and returns it with
// the bits of randomness drawn for its characters.
func draw(like []string) (string, float64) {
	if len(like) > 0 {
		g := &gen{}
		if l, ok := g.shaped(shapeOf(like[g.intn(len(like))]), 1); ok {
			return l, g.bits
		}
	}
	for {
		g := &gen{}
		if l, ok := g.shaped(shapeOf(generic[g.intn(len(generic))]), 2); ok {
			return l, g.bits // every generic shape holds minBits (TestGenericShapesHoldTheirBits)
		}
	}
}

// shaped draws a local part of shape ps, each run's length changed by up
// to jitter; ok is false where ps has no run or cannot hold minBits
// within maxLocal octets.
func (g *gen) shaped(ps []part, jitter int) (string, bool) {
	if !hasRuns(ps) {
		return "", false
	}
	total := 0
	for i := range ps {
		if p := &ps[i]; p.kind == 'a' || p.kind == '0' {
			p.n = max(1, p.n+g.intn(2*jitter+1)-jitter)
		}
		total += ps[i].n
	}
	for total > maxLocal { // too long: the longest runs give way
		i := longest(ps)
		if ps[i].n == 1 {
			return "", false // separators alone fill it
		}
		ps[i].n--
		total--
	}
	l := g.fill(ps, minBits+float64(g.intn(maxExtra+1)), total)
	return l, g.bits >= minBits
}

func hasRuns(ps []part) bool {
	for _, p := range ps {
		if p.kind == 'a' || p.kind == '0' {
			return true
		}
	}
	return false
}

// longest returns the longest run of ps.
func longest(ps []part) int {
	best := -1
	for i, p := range ps {
		if (p.kind == 'a' || p.kind == '0') && (best < 0 || p.n > ps[best].n) {
			best = i
		}
	}
	return best
}

// fill draws the characters of shape ps, total octets long, lengthening
// its runs (letters first, the shortest first) until the draw has at
// least target bits or is maxLocal octets long, and writes it as a
// dot-atom.
func (g *gen) fill(ps []part, target float64, total int) string {
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
		if ps[i].upper(len(runs[i])) {
			c -= 'a' - 'A'
		}
		runs[i] = append(runs[i], c)
	}
	for i, p := range ps {
		if p.kind == 'a' || p.kind == '0' {
			for range p.n {
				grow(i)
			}
		}
	}
	for g.bits < target && total < maxLocal {
		grow(g.shortest(ps, runs))
		total++
	}
	var b strings.Builder
	for i, p := range ps {
		switch s := b.String(); {
		case p.kind == 'a' || p.kind == '0':
			b.Write(runs[i])
		case p.kind != '.':
			b.WriteByte(p.kind) // atext: anywhere in a dot-atom
		case s != "" && s[len(s)-1] != '.' && hasRuns(ps[i+1:]):
			b.WriteByte('.') // a dot: never first, last or doubled
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

// RefusesSyntax reports whether r, the result of a random address,
// refuses it as malformed: an X.1.3 enhanced code ("bad destination
// mailbox address syntax"), a 501 ("syntax error in parameters"), or a
// 553 whose text says so and whose codes name no other reason.
// smtpprobe reads a 5.1.3 as no such mailbox, but such a refusal says
// nothing of mailboxes: a catch-all that holds to RFC 5321's limits
// refuses a malformed address and accepts every valid one. So it answers
// no catch-all question and proves no acceptance; the random address
// must be judged as a mailbox to prove anything. The draw stays within
// those limits (maxLocal); this guards what a server may still count as
// malformed.
func RefusesSyntax(r *smtpprobe.Result) bool {
	rep := r.Reply
	if rep == nil || rep.Code/100 != 5 {
		return false
	}
	e := rep.Enhanced
	switch {
	case e.Subject == 1 && e.Detail == 3, rep.Code == 501:
		return true
	case rep.Code == 553 && (e.IsZero() || e.Subject == 0):
		t := strings.ToLower(rep.Text())
		return slices.ContainsFunc([]string{"syntax", "too long", "invalid", "malformed", "illegal"}, func(w string) bool { return strings.Contains(t, w) })
	}
	return false
}

// statusOf reads the probe's result: a refusal as malformed answers
// nothing (see RefusesSyntax), else as classify.
func statusOf(r *smtpprobe.Result) Status {
	if RefusesSyntax(r) {
		return Unknown
	}
	return classify(r.Outcome)
}
