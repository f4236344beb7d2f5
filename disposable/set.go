package disposable

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"math/bits"
	"strings"

	"github.com/mailverify/mailverify/syntax"
	"golang.org/x/net/publicsuffix"
)

// A List reports whether a domain is on it. It is modelled on
// net/http/cookiejar's PublicSuffixList: small, consumer-side, and
// implementations must be safe for concurrent use.
type List interface {
	// Contains reports whether domain, or a parent domain of it down to but
	// not including its public suffix, is listed. The domain may be in any
	// case, with or without a trailing dot, in U-label or A-label form.
	Contains(domain string) bool
	// String names the list's source and version.
	String() string
}

// A Set is a compact, immutable set of domains: all entries in one string,
// an offset per entry and an open-addressing hash index over them. It
// takes about a third of the memory of a map[string]struct{} of the same
// domains and looks up about as fast. A Set is safe for concurrent use.
type Set struct {
	name  string
	blob  string   // entries, each followed by '\n'
	offs  []uint32 // start of each entry in blob; offs[len] is len(blob)
	slots []uint32 // entry index + 1, or 0 for an empty slot
}

var _ List = (*Set)(nil)

// maxEntryLen bounds an entry: a domain has at most 253 octets.
const maxEntryLen = 253

// Parse reads a Set from text: one domain per line; blank lines and lines
// starting with # are skipped, and so are public suffixes (such as
// "co.uk"), which would list every domain under them. Domains are
// normalized (lower case, no trailing dot, A-label form). It fails on a
// line that is not a domain, and name becomes the Set's String.
func Parse(r io.Reader, name string) (*Set, error) {
	var b strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		d, ok := normalize(line)
		if !ok || !strings.Contains(d, ".") {
			return nil, fmt.Errorf("disposable: line %d: %q is not a domain", n, shorten(line))
		}
		if isPublicSuffix(d) {
			continue
		}
		b.WriteString(d)
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("disposable: line %d: %w", n+1, err)
	}
	return build(b.String(), name), nil
}

// New returns a Set of the given domains, normalized; entries that are not
// domains, and public suffixes, are skipped.
func New(name string, domains ...string) *Set {
	var b strings.Builder
	for _, d := range domains {
		if n, ok := normalize(d); ok && n != "" && !isPublicSuffix(n) {
			b.WriteString(n)
			b.WriteByte('\n')
		}
	}
	return build(b.String(), name)
}

// build indexes blob, whose entries are normalized and end in '\n'.
// Duplicates are dropped.
func build(blob, name string) *Set {
	n := strings.Count(blob, "\n")
	s := &Set{name: name, blob: blob, offs: make([]uint32, 0, n+1)}
	size := 1 << bits.Len(uint(2*n)) // a load factor under one half
	s.slots = make([]uint32, size)
	start := 0
	for start < len(blob) {
		end := start + strings.IndexByte(blob[start:], '\n')
		s.add(blob[start:end], uint32(start))
		start = end + 1
	}
	s.offs = append(s.offs, uint32(len(blob)))
	return s
}

func (s *Set) entry(i uint32) string {
	// An entry runs to the next newline; offs are in blob order, so the
	// newline after offs[i-1] ends it.
	start := s.offs[i-1]
	end := start + uint32(strings.IndexByte(s.blob[start:], '\n'))
	return s.blob[start:end]
}

// The index hashes with 32-bit FNV-1a over the bytes from last to first,
// so that one pass over a domain from its end yields the hash of every
// parent on the way (see Contains).
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// rhash is the hash of d: FNV-1a over its bytes in reverse order.
func rhash(d string) uint32 {
	h := uint32(fnvOffset)
	for i := len(d) - 1; i >= 0; i-- {
		h ^= uint32(d[i])
		h *= fnvPrime
	}
	return h
}

// add indexes the entry d that starts at offset start of the blob, unless
// it is there already: one probe sequence either finds it or ends at the
// free slot it takes.
func (s *Set) add(d string, start uint32) {
	mask := uint32(len(s.slots) - 1)
	for i := rhash(d) & mask; ; i = (i + 1) & mask {
		idx := s.slots[i]
		if idx == 0 {
			s.offs = append(s.offs, start)
			s.slots[i] = uint32(len(s.offs))
			return
		}
		if s.entry(idx) == d {
			return
		}
	}
}

// contains looks up one normalized domain, without the parent walk.
func (s *Set) contains(d string) bool { return s.find(d, rhash(d)) }

// find looks up d, whose hash is h.
func (s *Set) find(d string, h uint32) bool {
	if len(s.slots) == 0 {
		return false
	}
	mask := uint32(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		idx := s.slots[i]
		if idx == 0 {
			return false
		}
		if s.entry(idx) == d {
			return true
		}
	}
}

// Contains reports whether domain or one of its parents, down to but not
// including its public suffix, is in the set.
func (s *Set) Contains(domain string) bool {
	d, ok := normalize(domain)
	if !ok {
		return false
	}
	// The parent walk in one pass from the end: at each label boundary the
	// running hash is that of the parent that starts there. Public
	// suffixes and their parents are asked about too, which finds nothing:
	// a Set never holds a public suffix (Parse and New drop them, and
	// TestWalkEquivalence checks the embedded lists), so the answers are
	// those of a walk that stops above the public suffix, without its
	// cost.
	h := uint32(fnvOffset)
	for i := len(d) - 1; i >= 0; i-- {
		h ^= uint32(d[i])
		h *= fnvPrime
		if (i == 0 || d[i-1] == '.') && s.find(d[i:], h) {
			return true
		}
	}
	return false
}

// isPublicSuffix reports whether d is a public suffix (ICANN or private),
// which no list may hold: it would list every domain under it.
func isPublicSuffix(d string) bool {
	ps, _ := publicsuffix.PublicSuffix(d)
	return ps == d
}

// Len returns the number of domains in the set.
func (s *Set) Len() int { return max(len(s.offs)-1, 0) }

// All returns the domains of the set in the order they were read.
func (s *Set) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 1; i < len(s.offs); i++ {
			if !yield(s.entry(uint32(i))) {
				return
			}
		}
	}
}

// String returns the name given at construction.
func (s *Set) String() string { return s.name }

// normalize returns d in lower case, without a trailing dot, in A-label
// form. ASCII input takes a fast path that allocates only for upper case.
func normalize(d string) (string, bool) {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > maxEntryLen*4 {
		return "", false
	}
	ascii, upper := true, false
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case c >= 0x80:
			ascii = false
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == '.' || c == '-' || c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
		default:
			return "", false
		}
	}
	if ascii {
		if upper {
			d = strings.ToLower(d)
		}
		return d, len(d) <= maxEntryLen
	}
	_, a, err := domainPolicy.ParseDomain(d)
	return a, err == nil
}

// domainPolicy converts internationalized names to A-labels.
var domainPolicy = syntax.Policy{AllowSpecialUse: true, AllowNumericTLD: true, AllowSingleLabel: true}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
