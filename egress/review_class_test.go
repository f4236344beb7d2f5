package egress

import (
	"strings"
	"testing"
)

// Review rev-class: adversarial rows for Classify, with real replies.
// Each failing row is a finding: the comment says what is wrong, what the
// verdict for the egress should be, and why. Passing rows guard what
// rules_test.go does not.
var reviewClassRows = []classifyRow{
	// FINDING E1 (a block not marked against the egress). Microsoft's
	// 5.7.511 bans the sending IP ("banned sender[IP]", delisting by mail
	// to delist@messaging.microsoft.com); ms-banned-ip knows only 5.7.6*
	// with "banned sending ip", and ip-blocked's aboutUs finds none of its
	// phrases in "banned sender[74.208.4.197]". Classify says None, so
	// verify keeps asking Microsoft through this egress (againElsewhere
	// does not move the address). Blocked, as 5.7.606.
	{"https://pastebin.com/JEGXAxrE (Exim bounce, RCPT TO at *.mail.protection.outlook.com)", StageRcpt,
		"550 5.7.511 Access denied, banned sender[74.208.4.197]. To request removal from this list please forward this message to delist@messaging.microsoft.com. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653. AS(508) [SN1NAM04FT013.eop-NAM04.prod.protection.outlook.com]",
		Blocked, "ms-banned-sender", "microsoft365"},

	// FINDING E2 (a block not marked against the egress). Gmail refuses
	// an IP its provider (or the Spamhaus PBL) marks as not a mail server:
	// NotAuthorizedError. No rule knows "the ip you're using to send mail
	// is not authorized": aboutUs lists "your ip", not "the ip you're
	// using", and the text has no block word. None; it is Blocked: the
	// egress may not send to Google at all, another egress may.
	{"https://www.spamresource.com/2024/04/gmail-rejection-your-sending-ip-address.html", StageRcpt,
		"550 5.7.1 [192.0.2.1] The IP you're using to send mail is not authorized to send email directly to our servers. Please use the SMTP relay at your service provider instead. For more information, go to https://support.google.com/mail/?p=NotAuthorizedError",
		Blocked, "gmail-not-authorized", "google"},

	// FINDING E3 (a block not marked against the egress). AOL's 521 5.2.1
	// "(CON:B1)": the sending server sent too much spam. No rule knows
	// AOL's bracketed codes (CON:B1, RLY:B1, DYN:T1, ...). Blocked.
	{"https://knownhost.com/kb/?p=5771 (AOL SMTP Error 521 example)", StageRcpt,
		"521 5.2.1 : (CON:B1) http://postmaster.info.aol.com/errors/554conb1.html",
		Blocked, "aol-blocked", ""},

	// FINDING E4 (a block not marked against the egress). United Internet
	// (GMX, web.de, 1&1) refuses mail whose MAIL FROM domain's SPF record
	// does not list the sending IP, with no enhanced code. That is this
	// egress's address against our MAIL FROM domain: another egress, one
	// the SPF record lists, passes. No rule knows "spf"; None. Blocked,
	// explained as the "mailfrom" case.
	{"https://smtp.codes/unitedinternet/ (550 Reject due to SPF policy)", StageRcpt,
		"550 <probe@verifier.example.net>: Reject due to SPF policy. The originating IP of the message is not permitted by the domain owner",
		Blocked, "sender-refused", ""},

	// FINDING E5 (a throttle not marked against the egress). web.de/GMX's
	// "450 Reject due to policy violations.": the delivering IP is refused
	// for a while because it wrote to too many nonexistent addresses (a
	// bad delivery rate) or changed its HELO; exactly what a verifier's
	// egress draws. No 4xx rule knows "policy violations"; None.
	// Throttled: back off this provider on this egress.
	{"https://new-faq.comservice-ffo.de/smtp-fehlermeldungen-e-mail-fehler/ (450 Reject due to policy violations)", StageRcpt,
		"450 Reject due to policy violations.",
		Throttled, "policy-violations", ""},

	// FINDING E6 (the receiver's own misconfiguration marked against the
	// egress). AHBL shut down and, from 1 January 2015, answers every
	// query as listed: a receiver still querying it refuses every sender.
	// dnsbl-listed marks our egress Blocked and quarantines it for the
	// provider; the reply says nothing about us. ReceiverMisconfigured, as
	// the Spamhaus open-resolver answers are (dnsbl-query-error). The dead
	// lists that list the world are few and known (ahbl.org, the ones
	// dnsbl.com's "Status of DEAD" posts name).
	{"https://www.idea11.com.au/blog/blacklisted-at-dnsbl-ahbl-org/", StageRcpt,
		"550 blacklisted at dnsbl.ahbl.org",
		ReceiverMisconfigured, "dnsbl-dead", ""},

	// FINDING E7 (a mailbox answer marked against the egress). The block
	// words are substrings of the whole text, and Postfix quotes the
	// recipient: a recipient domain holding "rbl" (marble, warble,
	// verbling) or "sorbs" (absorbs) turns "User unknown" into a
	// dnsbl-listed block of our egress. One unknown user at such a domain
	// quarantines the egress for the provider. None.
	{"Postfix's unknown-recipient reply (the 'Mailbox answers' row of rules_test.go); the domain is the reader's data", StageRcpt,
		"550 5.1.1 <jo@marbleworks.com>: Recipient address rejected: User unknown in virtual mailbox table",
		None, "", ""},
	{"as above", StageRcpt,
		"550 5.1.1 <jo@absorbs.co.uk>: Recipient address rejected: User unknown in virtual mailbox table",
		None, "", ""},

	// Passing: Google's one-domain-per-transaction refusal is about the
	// transaction, never the egress (see smtpprobe's
	// TestReviewClassMultipleDomainsIsATransactionLimit): a fix there must
	// not come through the egress layer.
	{"https://github.com/dcposch/scramble/issues/88", StageRcpt,
		"451 4.3.0 Multiple destination domains per transaction is unsupported. Please try again.",
		None, "", ""},
}

func TestReviewClassEgressReplies(t *testing.T) {
	for _, row := range reviewClassRows {
		f := Classify(parseRow(row.stage, row.reply))
		if f.Verdict != row.verdict || row.rule != "" && (f.Rule != row.rule || f.Provider != row.provider) {
			t.Errorf("%s\n  %.100s at %s\n  = %v (rule %q, provider %q), want %v (rule %q, provider %q)",
				row.source, row.reply, row.stage, f.Verdict, f.Rule, f.Provider, row.verdict, row.rule, row.provider)
		}
	}
}

// FINDING E7, the property: a recipient address quoted in a mailbox answer
// never marks the egress, whatever words its domain holds. Each text of a
// rule that can stand in a domain label is put into the recipient's
// domain of Postfix's unknown-user reply.
func TestReviewClassQuotedAddressNeverMarks(t *testing.T) {
	var bad []string
	for _, ru := range rules {
		for _, w := range ru.text {
			if strings.ContainsAny(w, " .[]():-/'") {
				continue
			}
			rep := parseRow(StageRcpt, "550 5.1.1 <jo@"+w+"s.example>: Recipient address rejected: User unknown in virtual mailbox table")
			if f := Classify(rep); f.Verdict.Against() || f.Verdict == ReceiverMisconfigured {
				bad = append(bad, w+"→"+f.Verdict.String())
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("a 550 5.1.1 quoting a recipient whose domain holds a rule's word marks the egress: %v", bad)
	}
}
