package egress

import (
	"slices"
	"strings"
	"testing"
)

// classifyRow is one real reply (quoted as the source has it, the client
// IP addresses as published) with what it means for the egress.
type classifyRow struct {
	source   string
	stage    Stage
	reply    string // "550 5.7.606 text", as one line
	verdict  Verdict
	rule     string
	provider string
}

var classifyRows = []classifyRow{
	// Microsoft 365 / Exchange Online.
	{"https://pastebin.com/EH1TUb0X (Postfix bounce)", StageRcpt,
		"550 5.7.606 Access denied, banned sending IP [185.234.72.45]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 AS(1430)",
		Blocked, "ms-banned-ip", "microsoft365"},
	{"https://pastebin.com/JxYau839 (Exim bounce)", StageRcpt,
		"550 5.7.606 Access denied, banned sending IP [199.250.222.182]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609)",
		Blocked, "ms-banned-ip", "microsoft365"},
	{"issue 29's wording; Microsoft Learn's NDR 5.7.708 page (not retrieved here)", StageRcpt,
		"550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
		Blocked, "ms-ip-not-accepted", "microsoft365"},
	{"https://www.cloudmailin.com/smtp-troubleshooter/451-error", StageRcpt,
		"451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS-ID)",
		Throttled, "ms-server-busy", "microsoft365"},
	{"https://github.com/sisimai/p5-sisimai/issues/469", StageRcpt,
		"451 4.7.650 The mail server [52.198.124.32] has been temporarily rate limited due to IP reputation",
		Throttled, "ms-server-busy", "microsoft365"},
	{"Microsoft 365 directory-based edge blocking (smtpprobe/rules.go): a mailbox answer", StageRcpt,
		"550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT049.eop-EUR03.prod.protection.outlook.com]",
		None, "ms-directory-edge-block", "microsoft365"},

	// Outlook.com (consumer).
	{"https://xenforo.com/community/threads/error-s3150-is-processed-as-soft-bounce-should-be-an-error.234398", StageMail,
		"550 5.7.1 Unfortunately, messages from [xxx.xxx.xxx.xxx] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [VE1EUR01FT080.eop-EUR01.prod.protection.outlook.com]",
		Blocked, "outlook-block-list", "outlook"},
	{"https://paranoidpengu.in/2020/07/my-mail-server-got-blocked-by-outlook-com/", StageMail,
		"550 5.7.1 Unfortunately, messages from [] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).",
		Blocked, "outlook-block-list", "outlook"},
	{"https://pastebin.com/rwzHX08U (Postfix bounce, in reply to MAIL FROM)", StageMail,
		"550 5.7.1 Unfortunately, messages from [204.11.58.44] weren't sent. Please contact your Internet service provider since part of their network is on our block list (AS3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [BY2NAM01FT030.eop-nam01.prod.protection.outlook.com]",
		Blocked, "outlook-block-list", "outlook"},
	{"https://pastebin.com/dW4JrGn7 (Postfix log, in reply to MAIL FROM)", StageMail,
		"421 RP-001 (SNT0-MC2-F19) Unfortunately, some messages from 50.57.111.177 weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day. You can also refer to http://mail.live.com/mail/troubleshooting.aspx#errors.",
		Throttled, "hotmail-rate", "outlook"},

	// Google.
	{"https://github.com/mail-in-a-box/mailinabox/issues/1771", StageRcpt,
		"421 4.7.28 [xxx.59.88.xxx 4] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. Please visit https://support.google.com/mail/?p=UnsolicitedRateLimitError to review our Bulk Email Senders Guidelines. z1si9679476pln.401 - gsmtp",
		Throttled, "gmail-unsolicited-rate", "google"},
	{"https://gist.github.com/8530279", StageRcpt,
		"421 4.7.0 [209.85.214.171 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily blocked. Please visit http://www.google.com/mail/help/bulk_mail.html to review our Bulk Email Senders Guidelines. f6si15562665obr.98 - gsmtp",
		Throttled, "gmail-unsolicited-rate", "google"},
	{"https://pastebin.com/SWVXknth (Postfix bounce)", StageRcpt,
		"550 5.7.1 [31.14.138.158 1] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked. Please visit https://support.google.com/mail/?p=UnsolicitedIPError to review our Bulk Email Senders Guidelines. s25si6573124wmj.54 - gsmtp",
		Blocked, "gmail-unsolicited-blocked", "google"},
	{"https://kaanlabs.com/resolve-undelivered-mail-returned-to-sender-with-ptr-records/", StageRcpt,
		"550 5.7.25 [f293:a083:1c13:b38d:d8bb:8073:a0a7:cb15] The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP.",
		Blocked, "rdns-code", ""},
	{"https://github.com/invoiceninja/dockerfiles/issues/492", StageHELO,
		"421 4.7.0 Try again later, closing connection. (EHLO) xxx-xxxxxxxxxxxxxxxxxxxxxxxxxx - gsmtp",
		Throttled, "closing-channel", "google"},
	{"https://github.com/sisimai/p5-sisimai/issues/466: about the recipient's mailbox, not the egress", StageRcpt,
		"450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered",
		None, "gmail-recipient-rate", ""},

	// Yahoo.
	{"https://github.com/tutao/tutanota/issues/7113 (in reply to MAIL FROM)", StageMail,
		"421 4.7.0 [TSS04] Messages from 185.205.69.214 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
		Throttled, "yahoo-deferred", "yahoo"},
	{"https://github.com/KumoCorp/kumomta/pull/376", StageGreeting,
		"421 [IPTS04] Messages from a.b.c.d temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
		Throttled, "yahoo-deferred", "yahoo"},
	{"https://pastebin.com/dW4JrGn7 (Postfix log: refused to talk to me)", StageGreeting,
		"421 4.7.0 [TS01] Messages from 50.57.111.177 temporarily deferred due to user complaints - 4.16.55.1; see http://postmaster.yahoo.com/421-ts01.html",
		Throttled, "yahoo-deferred", "yahoo"},

	// Security gateways.
	{"https://www.suped.com/knowledge/email-deliverability/troubleshooting/how-quickly-does-proofpoint-provide-delisting-details-and-advice (554 5.7.0 blocked with the Proofpoint lookup link)", StageRcpt,
		"554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1",
		Blocked, "proofpoint-blocked", "proofpoint"},
	{"https://wordtothewise.com/2018/07/who-are-mimecast", StageRcpt,
		"550 spamcop.mimecast.org Blocked - see http://www.spamcop.net/bl.shtml?10.10.10.10. - https://community.mimecast.com/docs/DOC-1369#550",
		Blocked, "dnsbl-listed", "mimecast"},
	{"https://wordtothewise.com/2018/07/who-are-mimecast", StageRcpt,
		"554 Email rejected due to security policies - https://community.mimecast.com/docs/DOC-1369#554",
		Blocked, "mimecast-blocked", "mimecast"},
	{"https://wordtothewise.com/2018/07/who-are-mimecast: a mailbox answer", StageRcpt,
		"550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550",
		None, "", ""},
	{"https://dwlistore.dwli.org/knowledgebase/444/Emails-Not-Sending-to-Mimecast-Recipients-.html: Mimecast greylisting", StageRcpt,
		"451 Internal resource is temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451 [Aj3QXapeMpqZYaeFwWhjzw.us32]",
		None, "greylisting", "mimecast"},
	{"https://github.com/sisimai/p5-sisimai/issues/469", StageGreeting,
		"554 IP address 198.51.100.5 rejected [IP reputation fail]",
		Blocked, "reputation-block", ""},

	// DNS blocklists, and the receiver's broken use of them.
	{"https://pastebin.com/FreqNBvG (Postfix bounce)", StageRcpt,
		"554 Refused. Your IP address is listed in the RBL at b.barracudacentral.org",
		Blocked, "dnsbl-listed", ""},
	{"https://docs.gandi.net/de/gandimail/faq/error_types/554_5_7_1_service_unavailable.html", StageRcpt,
		"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
		Blocked, "dnsbl-listed", ""},
	{"https://pastebin.com/UyYmyNYV (Postfix bounce from mail.global.frontbridge.com)", StageRcpt,
		"550 <jukefly.com[66.63.169.222]>: Client host rejected: Access Denied",
		Blocked, "ip-blocked", ""},
	{"https://pastebin.com/mt8MbFRM (in reply to MAIL FROM)", StageMail,
		"550 IP 74.220.202.212 is blocked by EarthLink. Go to earthlink.net/block for details.",
		Blocked, "refused-before-rcpt", ""},
	{"https://github.com/springcomp/self-hosted-simplelogin/issues/37", StageRcpt,
		"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; Error: open resolver; https://check.spamhaus.org/returnc/pub/46.38.225.230/",
		ReceiverMisconfigured, "dnsbl-query-error", ""},
	{"https://github.com/YunoHost/issues/issues/2162", StageRcpt,
		"554 5.7.1 Service unavailable; Client host [192.30.252.200] blocked using cbl.abuseat.org; Error: open resolver; https://www.spamhaus.org/returnc/pub/66.185.123.232",
		ReceiverMisconfigured, "dnsbl-query-error", ""},
	{"https://github.com/openstreetmap/operations/issues/674", StageRcpt,
		"550 Error: open resolver; https://www.spamhaus.org/returnc/pub/2400:cb00:377:1024::ac46:58b3",
		ReceiverMisconfigured, "dnsbl-query-error", ""},
	{"https://github.com/mailserver2/mailserver/pull/90", StageRcpt,
		"554 5.7.1 Service unavailable; Sender address [user@gmail.com] blocked using dbl.spamhaus.org; Error: open resolver; https://check.spamhaus.org/returnc/pub/13.66.150.136/",
		ReceiverMisconfigured, "dnsbl-query-error", ""},

	// Identity: rDNS, HELO, MAIL FROM.
	{"http://www.veraciti.com/Customer-Support/reverse-dns.html", StageGreeting,
		"550 IP address does not properly resolve for reverse DNS lookup",
		Blocked, "rdns", ""},
	{"http://www.veraciti.com/Customer-Support/reverse-dns.html", StageMail,
		"501 5.7.1 <jane@example.net>...Sender IP must resolve",
		Blocked, "rdns", ""},
	{"Postfix reject_unknown_client_hostname (postconf(5)); text as Postfix's smtpd sends it", StageRcpt,
		"450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.1]",
		Blocked, "rdns-code", ""},
	{"Postfix reject_non_fqdn_helo_hostname (postconf(5)); text as Postfix's smtpd sends it", StageRcpt,
		"504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
		Blocked, "helo-refused", ""},
	{"https://pastebin.com/q07qm310 (Postfix log)", StageRcpt,
		"554 5.7.1 <amurdoch.cc@gmail.com>: Sender address rejected: Access denied",
		Blocked, "sender-refused", ""},

	// Connection and rate limits.
	{"Postfix smtpd_client_connection_count_limit (postconf(5)); text as Postfix's anvil-backed smtpd sends it", StageGreeting,
		"421 4.7.0 mx.example.com Error: too many connections from 192.0.2.1",
		Throttled, "client-rate", ""},
	{"Postfix smtpd_client_recipient_rate_limit (postconf(5)); text as Postfix's smtpd sends it", StageRcpt,
		"450 4.7.1 Error: too many recipients from 192.0.2.1",
		Throttled, "client-rate", ""},
	{"https://github.com/sisimai/p5-sisimai/issues/466", StageGreeting,
		"452 4.3.2 Connection rate limit exceeded.",
		Throttled, "rate-text", ""},
	{"https://wiki.pscs.co.uk/how_to:421_4.3.2_vpop3_too_many_connections_from_your_ip_address_-_try_later", StageGreeting,
		"421 4.3.2 VPOP3 Too many connections from your IP address - try later",
		Throttled, "client-rate", ""},
	{"https://logsat.com/spamfilter/forums/printer_friendly_posts.asp?TID=6127", StageGreeting,
		"421 Your IP is temporarily blocked, please try again later",
		Throttled, "blocked-temporarily", ""},
	{"RFC 5321 section 4.5.3.1.10: a recipients-per-transaction limit, handled by smtpprobe", StageRcpt,
		"452 4.5.3 Error: too many recipients",
		None, "recipients-per-transaction", ""},

	// Mailbox answers stay mailbox answers.
	{"RFC 3463 5.1.1; Postfix's local recipient check", StageRcpt,
		"550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
		None, "", ""},
	{"postgrey's default reply", StageRcpt,
		"450 4.2.0 <jane@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html",
		None, "greylisting", ""},
	{"https://pastebin.com/6G7q8H39 (Exim greylisting)", StageRcpt,
		"451 216.194.173.80 is not yet authorized to deliver mail from <chris@gocleanse.net> to <docs@inmotionhosting.com>. Please try later.",
		None, "greylisting", ""},
	{"https://pastebin.com/cuaSEAAq (Postfix log): the domain is not served there", StageRcpt,
		"554 5.7.1 <wedge@live.ca>: Relay access denied",
		None, "", ""},
	{"a plain acceptance", StageRcpt, "250 2.1.5 OK", None, "", ""},
}

// parseRow splits "550 5.7.606 text" into a Reply.
func parseRow(stage Stage, s string) Reply {
	r := Reply{Stage: stage}
	code, rest, _ := strings.Cut(s, " ")
	for _, c := range code {
		r.Code = r.Code*10 + int(c-'0')
	}
	if f, after, ok := strings.Cut(rest, " "); ok && len(f) >= 5 && f[1] == '.' && f[0] == code[0] {
		r.Enhanced, rest = f, after
	}
	r.Text = rest
	return r
}

func TestClassifyRealReplies(t *testing.T) {
	for _, row := range classifyRows {
		rep := parseRow(row.stage, row.reply)
		f := Classify(rep)
		if f.Verdict != row.verdict || f.Rule != row.rule || f.Provider != row.provider {
			t.Errorf("%s\n  %s at %s\n  = %v rule %q provider %q; want %v rule %q provider %q",
				row.source, row.reply, row.stage, f.Verdict, f.Rule, f.Provider, row.verdict, row.rule, row.provider)
		}
		if f.Verdict != None && (f.Meaning == "" || f.Advice == "") {
			t.Errorf("%s: %v without an explanation", row.reply, f.Verdict)
		}
	}
}

// TestEveryRuleHasARow keeps the table honest: each rule that can mark
// the egress was written for a reply in classifyRows.
func TestEveryRuleHasARow(t *testing.T) {
	seen := map[string]bool{}
	for _, row := range append(slices.Clone(classifyRows), reviewClassRows...) {
		seen[row.rule] = true
	}
	optional := map[string]bool{ // variants of a tested rule, or code-only
		"receiver-lookup-failure": true, "receiver-config-enhanced": true, "recipients-per-transaction-code": true,
		"yahoo-permanent-deferral": true, "sender-enhanced": true, "banner-554": true,
		"proofpoint-delayed": true, "reputation-deferral": true,
	}
	for _, r := range rules {
		if !seen[r.id] && !optional[r.id] {
			t.Errorf("rule %q has no real reply in classifyRows", r.id)
		}
		if r.verdict != None {
			if _, ok := explanations[r.explain]; !ok {
				t.Errorf("rule %q: no explanation %q", r.id, r.explain)
			}
		}
	}
}

// TestClassifyGuarantees checks properties that hold whatever the text.
func TestClassifyGuarantees(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  Reply
		want Verdict
	}{
		{"2xx never counts", Reply{Stage: StageRcpt, Code: 250, Text: "ok, you are on the spamhaus blocklist"}, None},
		{"554 banner", Reply{Stage: StageGreeting, Code: 554, Text: "mx.example.com ESMTP not accepting messages"}, Blocked},
		{"554 at RCPT is not a banner", Reply{Stage: StageRcpt, Code: 554, Text: "delivery error"}, None},
		{"4.3.5 receiver config", Reply{Stage: StageRcpt, Code: 451, Enhanced: "4.3.5", Text: "Server configuration problem"}, ReceiverMisconfigured},
		{"MAIL FROM refused", Reply{Stage: StageMail, Code: 553, Enhanced: "5.1.8", Text: "Domain of sender address does not exist"}, Blocked},
		{"Yahoo permanent", Reply{Stage: StageGreeting, Code: 421, Enhanced: "4.7.0", Text: "[TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed."}, Blocked},
		{"unknown text", Reply{Stage: StageRcpt, Code: 550, Text: "no"}, None},
		{"protocol codes", Reply{Stage: StageRcpt, Code: 199}, None},
	} {
		if got := Classify(tc.rep).Verdict; got != tc.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tc.name, tc.rep, got, tc.want)
		}
	}
}

func TestStageOf(t *testing.T) {
	for cmd, want := range map[string]Stage{
		"CONNECT": StageGreeting, "EHLO": StageHELO, "helo": StageHELO, "STARTTLS": StageHELO,
		"MAIL": StageMail, "RCPT": StageRcpt, "DATA": StageRcpt, "": StageRcpt,
	} {
		if got := StageOf(cmd); got != want {
			t.Errorf("StageOf(%q) = %q, want %q", cmd, got, want)
		}
	}
}
