// Package disposable tells whether an email domain belongs to a
// disposable (throwaway) mail service.
//
// [Default] is an embedded snapshot of about 63,000 domains, built by
// internal/listgen from pinned npm packages (see [Provenance] and
// THIRD_PARTY_NOTICES), minus a kept list of real providers ([Legit]) and
// of privacy relays ([Relays]), which forward to real mailboxes and are
// not disposable. A domain matches when it or a parent domain down to its
// registrable domain is listed, so x.mailinator.com matches
// mailinator.com; a listed subdomain such as 0.mail.example.id never makes
// its parent match.
//
// A [Set] is compact (one string plus two integer slices) and immutable;
// an [Atomic] lets a list be replaced while in use, and package
// disposable/refresh fetches and validates new lists. The package does no
// network I/O of its own.
package disposable
