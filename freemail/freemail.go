// Package freemail tells whether an email domain belongs to a free or
// consumer mailbox provider (Gmail, Outlook.com, Yahoo, GMX, ISPs, ...),
// as opposed to a company's own domain. It is a flag for the caller's
// policy, never a verdict: a free mailbox is as deliverable as any.
//
// The embedded list comes from pinned npm packages (see Provenance),
// cleaned by internal/listgen: those packages mix in thousands of
// disposable domains, which are removed, as are privacy relays, typo
// domains and example domains.
package freemail

import (
	_ "embed"
	"strings"
	"sync"

	"github.com/mailverify/mailverify/disposable"
)

//go:embed data/free.txt
var freeTxt string

// Default returns the embedded list. It is built on first use.
func Default() *disposable.Set { return defaultSet() }

var defaultSet = sync.OnceValue(func() *disposable.Set {
	s, err := disposable.Parse(strings.NewReader(freeTxt), "freemail: embedded, "+Provenance)
	if err != nil {
		panic(err) // the embedded data is checked by tests
	}
	return s
})

// Contains reports whether domain, or a parent domain of it, is a free
// mailbox provider in the embedded list.
func Contains(domain string) bool { return Default().Contains(domain) }
