// Package smtpprobe asks mail servers whether they would accept mail for
// a recipient, without sending any: EHLO (HELO as fallback), STARTTLS
// (RFC 3207), MAIL FROM, RCPT TO, then QUIT. It never sends DATA.
//
// A [Prober] holds the configuration (HELO name, MAIL FROM, timeouts, TLS
// policy, limits); [Prober.Open] returns a [Session] on one server, and
// [Session.Probe] asks about many addresses on it: one MAIL FROM per
// transaction, RCPTs pipelined when the server offers PIPELINING (RFC
// 2920), SMTPUTF8 (RFC 6531) when an address needs it. Sessions respect
// servers: they reconnect before the usual error limits, after 421, and
// when a transaction is full (452 4.5.3).
//
// Replies are read with caps on line length and line count and a deadline
// before every command; a cancelled context expires the connection at
// once. No command containing CR, LF or NUL is ever sent.
//
// [Classify] turns a reply into an [Outcome]: by reply code first, RFC
// 3463 enhanced status code second, text last (rules.go). A 4xx reply is
// never a permanent verdict, and a 5.7.x reply or a blocklist text is
// [Blocked], never [MailboxNotFound]: the server judged the client, not
// the mailbox.
//
// The client is written on net/textproto's conventions rather than
// net/smtp (frozen, and it cannot tell 250 from 252) or a full SMTP
// library: it needs every reply code and no mail submission.
package smtpprobe
