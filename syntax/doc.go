// Package syntax parses and validates one email address, without any
// network access, and returns it normalized.
//
// Two policies are predefined, and [Policy] has knobs for others:
//
//   - [Default] (also [Parse]) is the practical sign-up policy: would a
//     service that sends real mail accept the string as typed? It screens
//     out control, format, private-use, unassigned and invisible characters,
//     normalizes the local part to NFC and requires it to be a PRECIS
//     IdentifierClass string (RFC 8264), maps the domain with UTS #46
//     non-transitional processing, and judges it by IDNA2008. It rejects
//     quoted local parts, address literals, dotless domains, all-digit TLDs
//     and the special-use TLDs (.test, .example, .invalid, .localhost,
//     .local, .onion, .alt, .internal, .arpa).
//   - [Strict] answers whether the string, byte for byte, is an RFC 5321
//     Mailbox with the RFC 6531 (SMTPUTF8) extensions: quoted strings and
//     address literals included, nothing mapped or normalized.
//
// Domains are judged by IDNA2008 as written (RFC 5890-5893), not by the
// UTS #46 tables alone: every code point must be PVALID under the RFC 5892
// derived properties, CONTEXTJ and CONTEXTO rules are tested, an "xn--"
// label must be a real, canonical A-label, and the RFC 5893 Bidi Rule applies
// to every label of a domain that holds right-to-left characters. The
// derived-property tables are generated from the Unicode Character Database
// (see internal/gen); [UnicodeVersion] names the version.
//
// Limits follow RFC 5321 section 4.5.3.1: 64 octets for the local part, 63
// per label and 253 for the domain in A-label form, 254 for the address.
//
// Every failure is an [*Error] that wraps one of the Err* sentinels, with
// the byte offset of the problem. No input makes Parse panic. No policy
// accepts an ASCII control character (CR, LF, NUL, TAB, DEL, ...), so an
// [Address] cannot inject an SMTP command; a non-Verbatim policy such as
// Default also rejects C1 controls and invisible characters, which Strict
// accepts in a local part because the RFC 6531 grammar does.
//
// Out of scope: whether the domain exists or takes mail (package mx), and
// RFC 5322 header syntax (display names, comments, groups): use net/mail to
// take an address out of a header first.
package syntax

// UnicodeVersion is the Unicode version of the tables that judge
// internationalized labels and local parts.
const UnicodeVersion = unicodeVersion
