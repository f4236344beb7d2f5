package disposable

import (
	_ "embed"
	"strings"
	"sync"
	"sync/atomic"
)

var (
	//go:embed data/disposable.txt
	disposableTxt string
	//go:embed data/relay.txt
	relayTxt string
	//go:embed data/allowlist.txt
	allowlistTxt string
)

// Default returns the embedded list of disposable domains (see
// Provenance). It is built on first use, so programs that import the
// package without calling Default pay nothing at start-up.
func Default() *Set { return defaultSet() }

var defaultSet = sync.OnceValue(func() *Set {
	return build(disposableTxt, "disposable: embedded, "+Provenance)
})

// Relays returns the embedded list of privacy-relay and forwarding-alias
// services (duck.com, SimpleLogin, Firefox Relay, iCloud Hide My Email,
// ...). Their addresses forward to a real, long-lived mailbox, so they are
// not in Default; a caller may still treat them specially.
func Relays() *Set { return relaySet() }

var relaySet = sync.OnceValue(func() *Set { return mustParse(relayTxt, "disposable: embedded relay services") })

// Legit returns the embedded list of real mailbox providers and ISPs that
// no disposable list may contain: the generator subtracts it, and a
// Refresher rejects a list that holds any of them.
func Legit() *Set { return legitSet() }

var legitSet = sync.OnceValue(func() *Set { return mustParse(allowlistTxt, "disposable: embedded legitimate providers") })

func mustParse(text, name string) *Set {
	s, err := Parse(strings.NewReader(text), name)
	if err != nil {
		panic(err) // the embedded data is checked by tests
	}
	return s
}

// An Atomic is a List whose Set can be replaced while it is in use, as a
// Refresher does. The zero Atomic is an empty list. It is safe for
// concurrent use.
type Atomic struct {
	p atomic.Pointer[Set]
}

var _ List = (*Atomic)(nil)

// NewAtomic returns an Atomic holding s.
func NewAtomic(s *Set) *Atomic {
	a := &Atomic{}
	a.p.Store(s)
	return a
}

// Load returns the current Set, or nil.
func (a *Atomic) Load() *Set { return a.p.Load() }

// Store replaces the Set.
func (a *Atomic) Store(s *Set) { a.p.Store(s) }

// Contains implements List with the current Set.
func (a *Atomic) Contains(domain string) bool {
	s := a.p.Load()
	return s != nil && s.Contains(domain)
}

// String names the current Set.
func (a *Atomic) String() string {
	if s := a.p.Load(); s != nil {
		return s.String()
	}
	return "disposable: empty"
}
