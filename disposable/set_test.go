package disposable

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/publicsuffix"
)

func TestSetContainsWalksParents(t *testing.T) {
	t.Parallel()
	s := New("test", "mailinator.com", "0.mail.example.id", "xn--bcher-kva.de", "Upper.Example.ORG.")
	for d, want := range map[string]bool{
		"mailinator.com":          true,
		"MAILINATOR.COM.":         true,
		"x.mailinator.com":        true,
		"a.b.c.mailinator.com":    true,
		"notmailinator.com":       false,
		"mailinator.com.evil.net": false,
		"0.mail.example.id":       true,
		"sub.0.mail.example.id":   true,
		"mail.example.id":         false, // a listed subdomain never makes its parent match
		"example.id":              false,
		"bücher.de":               true, // U-label input
		"BÜCHER.de":               true,
		"mail.xn--bcher-kva.de":   true,
		"upper.example.org":       true,
		"com":                     false, // a public suffix is never listed
		"":                        false,
		"bad domain.com":          false,
		"mailinator.com\r\nX":     false,
		strings.Repeat("a.", 600): false,
	} {
		if got := s.Contains(d); got != want {
			t.Errorf("Contains(%q) = %v, want %v", d, got, want)
		}
	}
	if s.Len() != 4 || s.String() != "test" {
		t.Errorf("Len %d, String %q", s.Len(), s.String())
	}
	if got := slices.Collect(s.All()); !slices.Equal(got, []string{"mailinator.com", "0.mail.example.id", "xn--bcher-kva.de", "upper.example.org"}) {
		t.Errorf("All = %q", got)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	s, err := Parse(strings.NewReader("# comment\n\nTempMail.COM\n  spaced.org  \ntempmail.com\n"), "r")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || !s.Contains("tempmail.com") || !s.Contains("spaced.org") {
		t.Errorf("Len %d, entries %q", s.Len(), slices.Collect(s.All()))
	}
	for _, bad := range []string{"not a domain\n", "nodot\n", "a@b.com\n", strings.Repeat("x", 5000) + ".com\n"} {
		if _, err := Parse(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("Parse(%q) succeeded", shorten(bad))
		}
	}
	empty, err := Parse(strings.NewReader(""), "empty")
	if err != nil || empty.Len() != 0 || empty.Contains("a.com") {
		t.Errorf("empty list: %v, %d", err, empty.Len())
	}
}

func TestDefaultList(t *testing.T) {
	t.Parallel()
	d := Default()
	if d.Len() < 50000 {
		t.Fatalf("embedded list has %d entries", d.Len())
	}
	for _, dom := range []string{"mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com", "temp-mail.org", "sub.mailinator.com"} {
		if !d.Contains(dom) {
			t.Errorf("Default misses %s", dom)
		}
	}
	// No real provider, relay service or subdomain of one is listed.
	for dom := range Legit().All() {
		if d.Contains(dom) {
			t.Errorf("Default lists the legitimate provider %s", dom)
		}
	}
	for dom := range Relays().All() {
		if d.Contains(dom) {
			t.Errorf("Default lists the relay %s", dom)
		}
	}
	for _, dom := range []string{"duck.com", "simplelogin.com", "mozmail.com", "privaterelay.appleid.com"} {
		if !Relays().Contains(dom) {
			t.Errorf("Relays misses %s", dom)
		}
	}
	if !strings.Contains(d.String(), "mailchecker@") || !strings.Contains(Provenance, "fakefilter@") {
		t.Errorf("provenance not named: %q", d.String())
	}
	if Legit().Len() < 100 || !Legit().Contains("gmail.com") || !Legit().Contains("proton.me") {
		t.Errorf("Legit list: %d entries", Legit().Len())
	}
}

// TestDefaultAgainstSharedTestSet checks the snapshot against the
// project's shared set of legitimate providers, when the repository is
// checked out beside it (it is not part of a user's clone).
func TestDefaultAgainstSharedTestSet(t *testing.T) {
	b, err := os.ReadFile("../../shared/data/legit_providers_testset.txt")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("../shared/data not present")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, dom := range strings.Fields(string(b)) {
		if Default().Contains(dom) {
			t.Errorf("Default lists %s, a legitimate provider", dom)
		}
	}
}

func TestAtomic(t *testing.T) {
	t.Parallel()
	var zero Atomic
	if zero.Contains("mailinator.com") || zero.String() != "disposable: empty" {
		t.Error("zero Atomic is not empty")
	}
	a := NewAtomic(New("one", "a.com"))
	if !a.Contains("a.com") || a.Contains("b.com") {
		t.Error("first set")
	}
	a.Store(New("two", "b.com"))
	if a.Contains("a.com") || !a.Contains("b.com") || a.String() != "two" || a.Load().Len() != 1 {
		t.Error("after Store")
	}
}

// TestSetMemory pins the memory the index takes for the embedded list:
// within 2 MB even when the text itself is on the heap (Parse).
func TestSetMemory(t *testing.T) {
	s := Default()
	index := 4*len(s.offs) + 4*len(s.slots)
	if total := index + len(s.blob); total > 2<<20 {
		t.Errorf("%d entries take %d bytes (index %d + text %d), want at most 2 MiB", s.Len(), total, index, len(s.blob))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := Parse(strings.NewReader(disposableTxt), "copy")
	runtime.GC()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 2<<20 {
		t.Errorf("a parsed copy of the list holds %d bytes of heap, want at most 2 MiB", grew)
	}
	runtime.KeepAlive(p)
}

// oldWalk is the walk bounded by the public suffix list, which walk
// replaces; TestWalkEquivalence shows they agree on the embedded lists.
func oldWalk(d string, has func(string) bool) bool {
	etld1, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return false
	}
	for {
		if has(d) {
			return true
		}
		if len(d) <= len(etld1) {
			return false
		}
		d = d[strings.IndexByte(d, '.')+1:]
	}
}

// TestWalkEquivalence proves, over every entry of the embedded lists, that
// the plain label walk answers as the walk bounded by the public suffix
// list: no entry is a public suffix, so asking about suffixes finds
// nothing.
func TestWalkEquivalence(t *testing.T) {
	t.Parallel()
	for _, s := range []*Set{Default(), Relays(), Legit()} {
		n := 0
		for e := range s.All() {
			if isPublicSuffix(e) {
				t.Errorf("%s holds the public suffix %q", s, e)
			}
			for _, q := range []string{e, "x." + e, "a.b." + e, e[strings.IndexByte(e, '.')+1:], "not-" + e} {
				if got, want := s.Contains(q), oldWalk(q, s.contains); got != want {
					t.Errorf("%s: Contains(%q) = %v, the bounded walk %v", s, q, got, want)
				}
			}
			n++
		}
		if n == 0 {
			t.Errorf("%s is empty", s)
		}
	}
	// A list given at run time cannot smuggle in a public suffix.
	if s := New("ps", "co.uk", "com", "github.io", "tempmail.co.uk"); s.Len() != 1 || s.Contains("bbc.co.uk") || !s.Contains("x.tempmail.co.uk") {
		t.Errorf("New kept a public suffix: %q", slices.Collect(s.All()))
	}
	if s, err := Parse(strings.NewReader("co.uk\nblogspot.com\nreal.example.net\n"), "p"); err != nil || s.Len() != 1 {
		t.Errorf("Parse kept a public suffix: %v %v", err, s)
	}
}
