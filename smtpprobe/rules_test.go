package smtpprobe

import (
	"strings"
	"testing"
)

// classifyCases are real replies (addresses and IPs replaced) with the
// rule each exercises ("" for codes alone).
var classifyCases = []struct {
	reply string
	want  Outcome
	rule  string
}{
	// Postfix.
	{"550 5.1.1 <jdoe@example.com>: Recipient address rejected: User unknown in virtual mailbox table", MailboxNotFound, "user unknown"},
	{"550 5.1.1 <jdoe@example.com>: Recipient address rejected: example.com", MailboxNotFound, "address rejected"},
	{"450 4.2.0 <jdoe@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html", Greylisted, "greylist"},
	{"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1", Blocked, "spamhaus"},
	{"554 5.7.1 <jdoe@example.com>: Relay access denied", Blocked, ""},
	{"554 Relay access denied", DomainRejectsMail, "relay access denied"},
	{"450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", Blocked, "client host rejected"},
	{"450 4.7.25 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", Blocked, "reverse hostname"},
	{"504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", Blocked, "helo command rejected"},
	{"450 4.1.8 <bounce@nonexistent.example>: Sender address rejected: Domain not found", Blocked, "sender address rejected"},
	{"552 5.2.2 <jdoe@example.com>: Recipient address rejected: Mailbox full", MailboxFull, "mailbox full"},
	{"421 4.7.0 mx.example.com Error: too many connections from 192.0.2.1", RateLimited, "too many connections"},
	{"452 4.3.1 Insufficient system storage", TemporaryFailure, ""},

	// Exim.
	{"550 Unrouteable address", MailboxNotFound, "unrouteable address"},
	{"550 relay not permitted", DomainRejectsMail, "relay not permitted"},
	{"550 No Such User Here", MailboxNotFound, "no such user"},
	{"550 Administrative prohibition", Blocked, "administrative prohibition"},
	{"451 Temporary local problem - please try later", TemporaryFailure, ""},

	// OpenSMTPD.
	{"524 5.2.4 Mailing list expansion problem", MailboxNotFound, ""},
	{"550 Invalid recipient: <jdoe@example.com>", MailboxNotFound, "invalid recipient"},

	// qmail.
	{"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", DomainRejectsMail, "isn't in my list of allowed rcpthosts"},

	// Microsoft 365 and Outlook.com.
	{"550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DM6NAM12FT035.eop-nam12.prod.protection.outlook.com]", MailboxNotFound, "access denied. as("},
	{"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", MailboxNotFound, "recipient not found"},
	{"550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found", MailboxNotFound, "recipientnotfound"},
	{"452 4.5.3 Too many recipients (AS780090) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]", RateLimited, "too many recipients"},
	{"550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/", Blocked, ""},
	{"451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719) [AM5EUR02FT011.eop-EUR02.prod.protection.outlook.com]", RateLimited, "server busy"},
	{"550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [AM5EUR03FT015.eop-EUR03.prod.protection.outlook.com]", Rejected, "mailbox unavailable"},
	{"550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", Blocked, "block list"},

	// Gmail.
	{"550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser", MailboxNotFound, "does not exist"},
	{"450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n450 4.2.1 prevents additional messages from being delivered.", RateLimited, "rate that prevents additional messages"},
	{"550-5.2.1 The email account that you tried to reach is disabled.\r\n550 5.2.1 https://support.google.com/mail/?p=DisabledUser", MailboxDisabled, ""},
	{"452-4.2.2 The email account that you tried to reach is over quota. Please direct\r\n452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp", MailboxFull, "over quota"},
	{"552 5.2.2 The email account that you tried to reach is over quota and inactive.", MailboxFull, ""},
	{"421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of\r\n421 4.7.0 unsolicited mail originating from your IP address.", Blocked, "your ip"},
	{"550-5.7.25 [192.0.2.1] The IP address sending this message does not have a\r\n550 5.7.25 PTR record setup, or the corresponding forward DNS entry does not match", Blocked, "ptr record"},
	{"550 5.7.26 This mail is unauthenticated, which poses a security risk", Blocked, ""},

	// Yahoo and AOL.
	{"554 delivery error: dd This user doesn't have a yahoo.com account (jdoe@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com", MailboxNotFound, "doesn't have a"},
	{"421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1", RateLimited, "[tss04]"},
	{"451 Message temporarily deferred - [TS01]", RateLimited, "[ts01]"},
	// AOL (https://knownhost.com/kb/?p=5771; postmaster.info.aol.com's error pages).
	{"521 5.2.1 : (CON:B1) http://postmaster.info.aol.com/errors/554conb1.html", Blocked, "(con:b1)"},
	{"554 5.7.1 : (RLY:B1) http://postmaster.info.aol.com/errors/554rlyb1.html", Blocked, "(rly:b"},
	{"521 5.2.1 Service unavailable. Please try again later.", TemporaryFailure, "try again later"},
	// Greylisting in Mimecast's and Exim's words.
	{"451 Internal resource is temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451 [Aj3QXapeMpqZYaeFwWhjzw.us32]", Greylisted, "internal resource is temporarily unavailable"},
	{"451 192.0.2.1 is not yet authorized to deliver mail from <a@example.net> to <jdoe@example.com>. Please try later.", Greylisted, "not yet authorized to deliver"},
	// 521/556 with codes that agree: the domain takes no mail (RFC 7504, 7505).
	{"556 5.1.10 Recipient address has null MX", DomainRejectsMail, ""},
	{"521 5.3.2 mx.example.com does not accept mail", DomainRejectsMail, ""},
	{"521 mx.example.com does not accept mail", DomainRejectsMail, ""},
	{"553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list", Blocked, ""},

	// Other providers and filters.
	{"550 5.1.1 <jdoe@icloud.com>: user does not exist", MailboxNotFound, ""},
	{"550 Message was not accepted -- invalid mailbox.  Local mailbox jdoe@mail.ru is unavailable: user not found", MailboxNotFound, "invalid mailbox"},
	{"550 User not found", MailboxNotFound, "user not found"},
	{"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net", Blocked, "spamcop"},
	{"554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1", Blocked, "reputation"},
	{"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org", Blocked, "barracudacentral"},
	{"550 5.7.1 Rejected: 192.0.2.1 listed at dnsbl.example.net", Blocked, "dnsbl"},
	{"554 Rejected due to RBL listing", Blocked, "rbl"},
	{"550 Your IP is on our blocklist", Blocked, "blocklist"},
	{"550 Sending host is blacklisted", Blocked, "blacklist"},
	{"550 Mail from 192.0.2.1 refused, blocked using local policy", Blocked, "blocked using"},
	{"550 Reverse DNS lookup failed for host 192.0.2.1", Blocked, "reverse dns"},
	{"554 Your rDNS does not match", Blocked, "rdns"},
	{"550 5.7.0 Sender is not authorized to send from this network", Blocked, "not authorized to send"},
	{"554 Sender banned", Blocked, "banned"},
	{"550 Message blocked", Blocked, "blocked"},
	{"451 4.7.1 Greylisting in action, please come back later", Greylisted, ""},
	{"450 4.7.1 Graylisted, please try again in 5 minutes", Greylisted, "graylist"},
	{"451 4.7.1 Please try again later", Greylisted, "try again later"},
	{"450 Please retry later", Greylisted, "please retry later"},
	{"450 4.7.1 Rate limit exceeded for this sender", RateLimited, "rate limit"},
	{"452 Too many messages for this hour", RateLimited, "too many messages"},
	{"421 You are sending too fast", RateLimited, "too fast"},
	{"552 5.2.2 Quota exceeded (mailbox for user is full)", MailboxFull, "quota exceeded"},
	{"552 Mailbox is full", MailboxFull, "mailbox is full"},
	{"552 Mailbox out of storage", MailboxFull, "out of storage"},
	{"550 Account is disabled", MailboxDisabled, "account is disabled"},
	{"550 The account has been disabled or discontinued", MailboxDisabled, "account has been disabled"},
	{"550 Mailbox disabled for this recipient", MailboxDisabled, "mailbox disabled"},
	{"550 Mailbox is disabled", MailboxDisabled, "mailbox is disabled"},
	{"550 Recipient inactive", MailboxDisabled, "inactive"},
	{"550 Account suspended", MailboxDisabled, "suspended"},
	{"550 Relaying denied", DomainRejectsMail, "relaying denied"},
	{"550 Sorry, not permitted to relay", DomainRejectsMail, "not permitted to relay"},
	{"550 We do not relay for that domain", DomainRejectsMail, "we do not relay"},
	{"550 Unknown user", MailboxNotFound, "unknown user"},
	{"550 No such mailbox", MailboxNotFound, "no such mailbox"},
	{"550 5.1.1 No such recipient here", MailboxNotFound, "no such recipient"},
	{"550 Recipient doesn't exist", MailboxNotFound, "doesn't exist"},
	{"550 Mailbox not found", MailboxNotFound, "mailbox not found"},
	{"550 not our customer", MailboxNotFound, "not our customer"},

	// Codes alone, and the guarantees.
	{"250 2.1.5 Ok", Accepted, ""},
	{"251 2.1.5 User not local; will forward", Accepted, ""},
	{"252 2.1.5 Cannot VRFY user, but will accept message", CannotVerify, ""},
	{"450 4.1.1 <jdoe@example.com>: Recipient address rejected: unverified address: user unknown", TemporaryFailure, ""},
	{"550 5.7.1 Recipient address rejected: user unknown, listed in spam trap", Blocked, ""},
	{"550 Requested action not taken", Rejected, ""},
	{"550 5.0.0 Requested action not taken", Rejected, ""},
	{"550 5.7.1 <jdoe@example.com>: Recipient address rejected: Access denied", Blocked, ""},
	{"550 Recipient address rejected: not permitted here", Rejected, "address rejected"},
	{"550 Denied by policy", Blocked, "denied by policy"},
	{"554 Message rejected by policy", Blocked, "rejected by policy"},
	{"550 Invalid HELO name (See RFC2821 4.1.1.1)", Blocked, "invalid helo"},
	{"550 Bad HELO - Host impersonating domain name [example.com]", Blocked, "bad helo"},
	{"550-Verification failed for <>\r\n550 Sender verify failed", Blocked, "sender verify failed"},
	{"553 5.1.7 The sender address is not a valid RFC 5321 address", Blocked, ""},
	{"550 5.1.8 Sender domain does not exist", Blocked, ""},
	{"550 5.0.0 Rate limit exceeded, try later", RateLimited, "rate limit"},
	{"550 Too many recipients", RateLimited, "too many recipients"},
	{"552 Too many recipients", RateLimited, "too many recipients"},
	{"552 5.5.3 Too many recipients", RateLimited, ""},
	{"452 4.2.2 Mailbox full, try again later", MailboxFull, ""},
	{"550 5.3.4 Message size exceeds fixed limit", TemporaryFailure, ""},
	{"550 5.4.4 Unable to route", TemporaryFailure, ""},
	{"554 5.6.0 Content rejected", TemporaryFailure, ""},
	{"550 5.4.1 Recipient rejected", Rejected, ""},
	{"551 User not local", Rejected, ""},
	{"550 Try again later", TemporaryFailure, ""},
	{"553 5.1.3 Bad recipient address syntax", MailboxNotFound, ""},
	{"556 5.1.10 Recipient address has null MX", DomainRejectsMail, ""},
	{"550 5.1.2 Host unknown", DomainRejectsMail, ""},
	{"554 Transaction failed", ProtocolError, ""},
	{"500 5.5.1 Command unrecognized", ProtocolError, ""},
	{"530 5.7.0 Must issue a STARTTLS command first", Blocked, ""},
	{"421 4.3.2 Service shutting down, try again later", RateLimited, ""},
	{"450 4.4.1 No answer from host", TemporaryFailure, ""},
}

func replyFrom(t *testing.T, raw string) Reply {
	t.Helper()
	r, err := parse(strings.ReplaceAll(raw, "\r\n", "\n") + "\r\n")
	if err != nil {
		t.Fatalf("test reply %q does not parse: %v", raw, err)
	}
	return r
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range classifyCases {
		r := replyFrom(t, tc.reply)
		if got := Classify(r); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", shorten(tc.reply), got, tc.want)
		}
		if tc.rule != "" {
			if o, ok := byText(strings.ToLower(r.Text()), r.Code/100); !ok || !strings.Contains(strings.ToLower(r.Text()), tc.rule) {
				t.Errorf("case for rule %q: text %q does not reach it (first match %v, %v)", tc.rule, r.Text(), o, ok)
			}
		}
	}
}

// TestEveryRuleHasACase keeps rules.go honest: each rule has a real reply
// above that contains it.
func TestEveryRuleHasACase(t *testing.T) {
	t.Parallel()
	for _, r := range textRules {
		found := false
		for _, c := range classifyCases {
			if c.rule == r.substr {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("rule %q has no test case", r.substr)
		}
	}
}

// TestBlocksNeverBecomeNotFound checks the central guarantee over every
// block rule combined with every not-found text.
func TestBlocksNeverBecomeNotFound(t *testing.T) {
	t.Parallel()
	for _, b := range textRules {
		if b.outcome != Blocked {
			continue
		}
		for _, n := range textRules {
			if n.outcome != MailboxNotFound {
				continue
			}
			for _, code := range []string{"550", "550 5.1.1", "554", "553 5.7.1"} {
				r := replyFrom(t, code+" "+n.substr+" ("+b.substr+")")
				if got := Classify(r); got == MailboxNotFound {
					t.Errorf("Classify(%q) = mailbox_not_found despite block text %q", r, b.substr)
				}
			}
		}
		r := replyFrom(t, "550 5.7.1 user unknown")
		if Classify(r) != Blocked {
			t.Errorf("5.7.1 with not-found text classified %v", Classify(r))
		}
	}
	// A 4xx is never a permanent verdict.
	for _, n := range textRules {
		r := replyFrom(t, "450 "+n.substr)
		switch Classify(r) {
		case MailboxNotFound, MailboxDisabled, DomainRejectsMail:
			t.Errorf("4xx %q classified as a permanent verdict %v", r, Classify(r))
		}
	}
}

// TestSpecificCodesOutrankText crosses every specific enhanced code with
// every text rule: the text changes the outcome only when it is a policy
// block.
func TestSpecificCodesOutrankText(t *testing.T) {
	t.Parallel()
	var specific []EnhancedCode
	for _, class := range []int{4, 5} {
		for subject := range 8 {
			for detail := range 11 {
				e := EnhancedCode{class, subject, detail}
				if _, ok := byEnhanced(e); ok {
					specific = append(specific, e)
				}
			}
		}
	}
	if len(specific) < 20 {
		t.Fatalf("only %d specific codes found", len(specific))
	}
	for _, e := range specific {
		code := map[int]string{4: "450", 5: "550"}[e.Class]
		want := Classify(replyFrom(t, code+" "+e.String()+" Requested action not taken"))
		for _, rule := range textRules {
			r := replyFrom(t, code+" "+e.String()+" "+rule.substr)
			got := Classify(r)
			switch {
			case rule.outcome == Blocked:
				if got != Blocked {
					t.Errorf("Classify(%q) = %v, want blocked", r.Text(), got)
				}
			case got != want:
				t.Errorf("Classify(%s %s %q) = %v, but the code alone gives %v", code, e, rule.substr, got, want)
			}
		}
	}
}

// TestGenericRejectionsAreNotVerdicts: a 550 that names no reason, with
// any text that is not about the mailbox, never says the mailbox is
// missing.
func TestGenericRejectionsAreNotVerdicts(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"Requested action not taken", "denied", "Rejected", "Access denied", "Not allowed", "Go away", "invalid HELO", "sender verify failed", "rate limit exceeded", "too many recipients"} {
		for _, code := range []string{"550", "550 5.0.0", "551", "553", "550 5.4.1"} {
			r := replyFrom(t, code+" "+text)
			if got := Classify(r); got == MailboxNotFound || got == MailboxDisabled || got == MailboxFull {
				t.Errorf("Classify(%q) = %v, a verdict from a reply that names no mailbox problem", code+" "+text, got)
			}
		}
	}
}
