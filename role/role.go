// Package role tells whether an email local part names a role (info,
// support, postmaster, no-reply, ...) rather than a person. A role address
// is a flag for the caller's policy, never a verdict: postmaster@ must
// exist by RFC 5321, and an existing role mailbox is deliverable.
//
// The embedded list comes from a pinned npm package plus a few additions
// (see Provenance); common given names in it are removed.
package role

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed data/role.txt
var roleTxt string

var roles = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 1024)
	for l := range strings.SplitSeq(roleTxt, "\n") {
		if l != "" {
			m[l] = struct{}{}
		}
	}
	return m
})

// Is reports whether the local part names a role. It ignores case, a
// "+tag" subaddress and the separators ".", "-" and "_", so "No-Reply",
// "no_reply" and "noreply+shop" are all the role "noreply".
func Is(local string) bool {
	k := Key(local)
	if k == "" {
		return false
	}
	_, ok := roles()[k]
	return ok
}

// Key returns the form Is compares: lower case, without the "+tag" and
// without ".", "-" and "_".
func Key(local string) string {
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	var b strings.Builder
	b.Grow(len(local))
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '.' || c == '-' || c == '_':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
