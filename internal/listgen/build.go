package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mailverify/mailverify/disposable"
	"github.com/mailverify/mailverify/role"
	"github.com/mailverify/mailverify/syntax"
	"golang.org/x/net/publicsuffix"
)

// domainPolicy validates list entries: multi-label, any TLD.
var domainPolicy = syntax.Policy{AllowSpecialUse: true, AllowNumericTLD: true}

// normalize returns the A-label form of a list entry, or "" to drop it.
func normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "@")
	s = strings.TrimPrefix(s, "*.")
	s = strings.TrimPrefix(s, ".")
	s = strings.TrimSuffix(s, ".")
	if !strings.Contains(s, ".") {
		return ""
	}
	_, a, err := domainPolicy.ParseDomain(s)
	if err != nil {
		return ""
	}
	if ps, _ := publicsuffix.PublicSuffix(a); ps == a {
		return "" // a public suffix itself: listing it would flag every domain under it
	}
	return a
}

// set normalizes entries into a Set; entries that normalize to nothing are
// dropped.
func set(entries []string) *disposable.Set {
	var keep []string
	for _, e := range entries {
		if n := normalize(e); n != "" {
			keep = append(keep, n)
		}
	}
	return disposable.New("", keep...)
}

// parent returns d without its first label.
func parent(d string) string { return d[strings.IndexByte(d, '.')+1:] }

// buildDisposable unions the sources and removes allowlisted domains (or
// subdomains of them), privacy relays, and entries already covered by a
// listed parent. Set.Contains does the parent walks, as at lookup time.
func buildDisposable(raw, allow, relay []string) ([]string, string) {
	all := set(raw)
	allowed, relays := set(allow), set(relay)
	var nAllow, nRelay, nCovered int
	var out []string
	for d := range all.All() {
		switch {
		case allowed.Contains(d):
			nAllow++
		case relays.Contains(d):
			nRelay++
		case all.Contains(parent(d)) && !allowed.Contains(parent(d)) && !relays.Contains(parent(d)):
			nCovered++
		default:
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, fmt.Sprintf("disposable: union %d, removed %d allowlisted, %d relays, %d covered by a parent: %d",
		all.Len(), nAllow, nRelay, nCovered, len(out))
}

// buildFree unions the free-provider sources with the allowlist (real
// mailbox providers) and removes disposable domains, relays, and the
// entries of not_free.txt (typo domains, example domains, non-mailbox
// sites).
func buildFree(raw, allow, disp, relay, notFree []string) []string {
	all := set(append(raw, allow...))
	dispSet, relays, excluded := set(disp), set(relay), set(notFree)
	var out []string
	for d := range all.All() {
		if dispSet.Contains(d) || relays.Contains(d) || excluded.Contains(d) {
			continue
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// roleExtra and roleNotRole adjust the npm list: bounce addresses are
// roles; some of its entries are common given names.
var (
	roleExtra   = []string{"bounce", "bounces", "mailer-daemon", "postmaster", "hostmaster", "abuse", "noreply", "donotreply"}
	roleNotRole = []string{"alexa", "dean", "per"}
)

// buildRoles returns the role local parts in the form role.Is compares
// (role.Key).
func buildRoles(raw []string) []string {
	m := map[string]bool{}
	for _, r := range append(raw, roleExtra...) {
		k := role.Key(strings.TrimSpace(r))
		if k != "" && !slices.Contains(roleNotRole, k) {
			m[k] = true
		}
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
