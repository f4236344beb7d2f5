// Package verify tells whether email addresses can receive mail, without
// sending any, by composing the layers of the module: syntax and
// suggestions, the disposable/free/role lists, DNS (package mx), the SMTP
// probe (package smtpprobe) and catch-all detection (package catchall).
//
// A [Verifier] is configured by its fields (the zero value works) and is
// safe for concurrent use. [Verifier.Verify] checks one address;
// [Verifier.VerifyAll] checks many, grouping them by domain so that one
// DNS lookup and one SMTP session per mail server serve them all.
//
// Every address gets a [Result]: a [Status] (deliverable, undeliverable,
// risky, unknown), one [Reason], flags and the evidence (MX hosts, the
// deciding SMTP reply, retry_after). Verdicts are data, not errors; where
// the protocol cannot tell, the status is unknown or risky, never
// undeliverable. The JSON form of Result is a stable contract.
package verify
