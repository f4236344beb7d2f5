package egress

import "strings"

// A rule recognises replies about the egress. Every condition set must
// hold: class (4 or 5; 0 any), code (0 any), stage ("" any), an enhanced
// code pattern (see hasPrefixAny), a lower-case text fragment, and when.
// Each rule has rows in rules_test.go with real replies and their source.
type rule struct {
	id       string
	verdict  Verdict
	provider string
	class    int
	code     int
	stage    Stage
	enhanced []string
	text     []string
	when     func(r Reply, lower string) bool
	explain  string
}

// aboutUs reports whether a refusal text names the client rather than a
// recipient: its IP address, host or connection.
func aboutUs(_ Reply, t string) bool {
	return containsAny(t, []string{"your ip", "ip address", "sending ip", "client host", "from this ip", "messages from ", "your host", "your server", "connecting host", "connection from", "the ip you're using", "originating ip"})
}

// notRcpt holds for replies before RCPT: the banner, HELO, MAIL FROM. A
// refusal there cannot be about a mailbox.
func notRcpt(r Reply, _ string) bool { return r.Stage != StageRcpt }

var rules = []rule{
	// The receiver's own configuration: never a mark against the egress.
	{id: "dnsbl-query-error", verdict: ReceiverMisconfigured, explain: "dnsbl-error",
		text: []string{"open resolver", "public resolver", "excessive number of queries", "typing error in dnsbl name", "spamhaus.org/returnc/"}},
	// A dead list that answers every query as listed (AHBL since 2015).
	{id: "dnsbl-dead", verdict: ReceiverMisconfigured, explain: "dnsbl-dead", text: []string{"ahbl.org"}},
	{id: "receiver-lookup-failure", verdict: ReceiverMisconfigured, class: 4, explain: "receiver-broken",
		text: []string{"temporary lookup failure", "server configuration problem", "local configuration error"}},
	{id: "receiver-config-enhanced", verdict: ReceiverMisconfigured, explain: "receiver-broken", enhanced: []string{"4.3.5", "5.3.5"}},

	// Mailbox answers that could pass for blocks.
	{id: "ms-directory-edge-block", verdict: None, class: 5, enhanced: []string{"5.4.1"}, text: []string{"recipient address rejected: access denied"}},
	{id: "gmail-recipient-rate", verdict: None, class: 4, text: []string{"receiving mail at a rate that prevents"}},
	{id: "greylisting", verdict: None, class: 4, text: []string{"greylist", "graylist", "internal resource is temporarily unavailable", "not yet authorized to deliver"}},
	{id: "client-rate", verdict: Throttled, class: 4, explain: "rate", text: []string{"too many recipients from", "too much mail from", "too many connections from", "too many messages from"}},
	{id: "recipients-per-transaction", verdict: None, text: []string{"too many recipients"}},
	{id: "recipients-per-transaction-code", verdict: None, enhanced: []string{"4.5.3", "5.5.3"}},

	// Blocks, provider by provider.
	{id: "ms-banned-ip", verdict: Blocked, provider: "microsoft365", class: 5, explain: "ms-banned",
		enhanced: []string{"5.7.6*"}, text: []string{"banned sending ip"}},
	{id: "ms-ip-not-accepted", verdict: Blocked, provider: "microsoft365", class: 5, explain: "ms-banned",
		enhanced: []string{"5.7.708", "5.7.750"}},
	{id: "ms-banned-sender", verdict: Blocked, provider: "microsoft365", class: 5, explain: "ms-banned",
		enhanced: []string{"5.7.511"}}, // "Access denied, banned sender[IP]"
	{id: "gmail-not-authorized", verdict: Blocked, provider: "google", class: 5, explain: "not-authorized",
		text: []string{"notauthorizederror", "not authorized to send email directly"}},
	{id: "aol-blocked", verdict: Blocked, class: 5, explain: "reputation-block", text: []string{"(con:b1)", "(rly:b"}},
	{id: "outlook-block-list", verdict: Blocked, provider: "outlook", class: 5, explain: "outlook-block",
		text: []string{"(s3150)", "(s3140)", "(as3150)", "(s3114)", "part of their network is on our block list"}},
	{id: "gmail-unsolicited-blocked", verdict: Blocked, provider: "google", class: 5, explain: "reputation-block",
		text: []string{"unusual rate of unsolicited mail", "unusual amount of unsolicited"}},
	{id: "rdns-code", verdict: Blocked, explain: "rdns", enhanced: []string{"5.7.25", "4.7.25"}}, // RFC 7372: reverse DNS validation failed
	{id: "yahoo-permanent-deferral", verdict: Blocked, provider: "yahoo", explain: "reputation-block",
		text: []string{"[tss09]", "[ts03]", "[bl21]", "[bl22]", "[bl23]", "permanently deferred"}},
	{id: "proofpoint-blocked", verdict: Blocked, provider: "proofpoint", class: 5, explain: "reputation-block",
		text: []string{"ipcheck.proofpoint.com", "proofpoint.com/us/support-services/ip-blocked"}},
	{id: "mimecast-blocked", verdict: Blocked, provider: "mimecast", class: 5, explain: "reputation-block",
		text: []string{"ip reputation", "email rejected due to security policies", "envelope blocked"},
		when: func(_ Reply, t string) bool { return strings.Contains(t, "mimecast") }},
	{id: "rdns", verdict: Blocked, explain: "rdns",
		text: []string{"reverse dns", "reverse hostname", "cannot find your hostname", "ptr record", "rdns", "reverse lookup", "ip must resolve", "does not resolve to"}},
	{id: "helo-refused", verdict: Blocked, explain: "helo",
		text: []string{"helo command rejected", "invalid helo", "bad helo", "need fully-qualified hostname", "helo name", "ehlo name"}},
	// Postfix delays its MAIL FROM refusals to RCPT (smtpd_delay_reject).
	{id: "sender-refused", verdict: Blocked, explain: "mailfrom",
		text: []string{"sender address rejected", "sender verify failed", "sender domain", "domain of sender", "due to spf", "spf check failed", "spf fail"}},
	{id: "sender-enhanced", verdict: Blocked, class: 5, explain: "mailfrom", enhanced: []string{"5.1.7", "5.1.8", "5.7.23", "5.7.27"}},
	{id: "dnsbl-listed", verdict: Blocked, class: 5, explain: "dnsbl",
		text: []string{"spamhaus", "spamcop", "barracudacentral", "sorbs", "blocked using", "dnsbl", "rbl", "blocklist", "block list", "blacklist"}},
	{id: "reputation-block", verdict: Blocked, class: 5, explain: "reputation-block", text: []string{"reputation"}},
	{id: "banner-554", verdict: Blocked, code: 554, stage: StageGreeting, explain: "banner"},
	{id: "refused-before-rcpt", verdict: Blocked, class: 5, explain: "refused",
		text: []string{"blocked", "banned", "denied", "not allowed", "rejected", "refused"}, when: notRcpt},
	{id: "ip-blocked", verdict: Blocked, class: 5, explain: "refused",
		text: []string{"blocked", "banned", "denied", "not allowed", "refused"}, when: aboutUs},

	// Throttles and deferrals.
	{id: "gmail-unsolicited-rate", verdict: Throttled, provider: "google", class: 4, explain: "reputation-rate",
		text: []string{"unusual rate of unsolicited mail", "unusual amount of unsolicited"}},
	{id: "yahoo-deferred", verdict: Throttled, provider: "yahoo", class: 4, explain: "reputation-rate",
		text: []string{"[tss0", "[ts0", "[ipts0", "[gl01]"}},
	{id: "ms-server-busy", verdict: Throttled, provider: "microsoft365", class: 4, explain: "rate",
		enhanced: []string{"4.7.500", "4.7.650", "4.7.651"}},
	{id: "policy-violations", verdict: Throttled, class: 4, explain: "reputation-rate", text: []string{"due to policy violations"}}, // web.de, GMX
	{id: "hotmail-rate", verdict: Throttled, provider: "outlook", class: 4, explain: "rate", text: []string{"rp-00", "we have limits for how many messages"}},
	{id: "proofpoint-delayed", verdict: Throttled, provider: "proofpoint", class: 4, explain: "reputation-rate", text: []string{"proofpoint"}},
	{id: "reputation-deferral", verdict: Throttled, class: 4, explain: "reputation-rate", text: []string{"reputation"}},
	{id: "rate-text", verdict: Throttled, class: 4, explain: "rate",
		text: []string{"too many connections", "connection rate", "rate limit", "rate-limit", "ratelimit", "throttl", "too fast", "too many messages", "temporarily deferred", "server busy", "too many concurrent", "concurrency limit", "unexpected volume"}},
	{id: "blocked-temporarily", verdict: Throttled, class: 4, explain: "reputation-rate",
		text: []string{"blocked", "banned", "blacklist", "blocklist", "spamhaus", "dnsbl"}, when: aboutUs},
	{id: "closing-channel", verdict: Throttled, code: 421, explain: "closing"},
}

type explanation struct{ meaning, advice string }

var explanations = map[string]explanation{
	"dnsbl-error": {"The receiving server asks a blocklist through a public DNS resolver; the blocklist answers every such question with an error code, which the server misreads as a listing and refuses every sender.",
		"Nothing to change on your side: the address stays unknown. The receiver's postmaster has to use their own resolver or the blocklist's query service."},
	"dnsbl-dead": {"The receiving server still asks a blocklist that has shut down and now lists every address, so it refuses every sender.",
		"Nothing to change on your side: the address stays unknown. The receiver's postmaster has to drop the dead list."},
	"not-authorized": {"Google refuses mail sent straight from this egress's IP address: its network marks it as not a mail server (for example a dynamic or residential range, or one on the Spamhaus PBL).",
		"Use an egress on a network whose addresses may send mail (with a PTR record and a HELO that match), or route Google through another egress."},
	"receiver-broken": {"The receiving server reports a fault in its own configuration or lookups.",
		"Nothing to change on your side; the address stays unknown and can be retried later."},
	"ms-banned": {"Microsoft's service refuses mail from this egress's IP address (its own block list).",
		"Request delisting at https://sender.office.com/; meanwhile route Microsoft through another egress."},
	"outlook-block": {"Outlook.com refuses this egress's IP address or its network (S3150/S3140: Microsoft's internal block list).",
		"Ask the network's provider, or Microsoft's sender support, to delist it; route Outlook through another egress."},
	"reputation-block": {"The provider refuses this egress's IP address because of its reputation.",
		"Slow down, check the address on the provider's lookup page, request delisting; use another egress meanwhile."},
	"reputation-rate": {"The provider defers this egress's IP address for a while because of its volume or reputation.",
		"Back off: send less to this provider from this egress; the deferral usually lifts on its own."},
	"rate": {"The server limits how much or how fast this egress may ask.",
		"Back off and lower this provider's budget for this egress."},
	"rdns": {"The server refuses this egress because its IP address has no PTR record, or one that does not resolve back to it.",
		"Set a PTR record for the address (with its owner: hosting or network provider) to a name whose A/AAAA record points back to it, and use that name as the HELO."},
	"helo": {"The server refuses the HELO/EHLO name this egress gives.",
		"Give this egress a fully qualified HELO name that resolves to its public address and matches its PTR record."},
	"mailfrom": {"The server refuses the MAIL FROM address this egress gives.",
		"Use a MAIL FROM address at a domain you control, with working MX/A records (and SPF allowing this egress)."},
	"dnsbl": {"The server refuses this egress because its IP address is listed on a public DNS blocklist.",
		"Look the address up on the named list and follow its delisting steps; use another egress meanwhile."},
	"banner": {"The server refused the connection in its banner (554): it takes nothing from this address.",
		"Treat the egress as blocked for this provider; check blocklists and the PTR record."},
	"refused": {"The server refuses this egress itself, not a recipient.",
		"Check the reply's text and the address's blocklist status; use another egress meanwhile."},
	"closing": {"The server closed the session (421) without saying why: usually load or a connection limit.",
		"Back off briefly and open fewer sessions at once."},
}
