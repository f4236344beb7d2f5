// Package mailverify tells whether an email address can receive mail,
// without sending any.
//
// A verification runs in layers, each usable on its own and each able to
// stop with a verdict:
//
//  1. [github.com/mailverify/mailverify/syntax]: RFC 5321/5322 address
//     syntax with internationalized addresses (RFC 6531, IDNA2008), length
//     limits and normalization.
//  2. Lists: disposable domains, role accounts, free providers, typo hints.
//  3. DNS: MX lookup with implicit MX and null MX (RFC 7505).
//  4. SMTP probe: EHLO, STARTTLS, MAIL FROM, RCPT TO, then QUIT; never DATA.
//  5. Catch-all detection with an improbable address at the same domain.
//
// The result is a verdict (deliverable, undeliverable, risky or unknown)
// with one precise reason and the evidence. Where the protocol cannot know
// (catch-all domains, greylisting, a blocked client IP) the verdict says
// unknown or risky, never invalid.
//
// This package holds no code; it documents the module. The layers live in
// the packages linked above; the ones not linked yet are being built.
package mailverify
