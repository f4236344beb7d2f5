// Package mailverify tells whether an email address can receive mail,
// without sending any.
//
// A verification runs in layers, each usable on its own and each able to
// stop with a verdict:
//
//  1. [github.com/mailverify/mailverify/syntax]: RFC 5321/5322 address
//     syntax with internationalized addresses (RFC 6531, IDNA2008), length
//     limits and normalization; [github.com/mailverify/mailverify/suggest]
//     for typo hints.
//  2. Lists: [github.com/mailverify/mailverify/disposable],
//     [github.com/mailverify/mailverify/freemail] and
//     [github.com/mailverify/mailverify/role].
//  3. DNS: [github.com/mailverify/mailverify/mx], MX lookup with implicit
//     MX and null MX (RFC 7505), caching and an SSRF guard.
//  4. SMTP probe: [github.com/mailverify/mailverify/smtpprobe], EHLO,
//     STARTTLS, MAIL FROM, RCPT TO, then QUIT; never DATA.
//  5. Catch-all detection: [github.com/mailverify/mailverify/catchall].
//
// [github.com/mailverify/mailverify/verify] composes them: its Verifier is
// what most programs use, and cmd/mailverify is the command-line tool.
//
// The result is a verdict (deliverable, undeliverable, risky or unknown)
// with one precise reason and the evidence. Where the protocol cannot know
// (catch-all domains, greylisting, a blocked client IP) the verdict says
// unknown or risky, never invalid.
//
// This package holds no code; it documents the module.
package mailverify
