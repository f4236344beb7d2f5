package smtpprobe

// textRules refine a reply by its text, after the codes (see Classify).
// The first match wins, so the policy blocks come first and no text that
// names a blocklist can end as MailboxNotFound. Each rule has a test in
// rules_test.go with a real reply it was written for. class limits a rule
// to 4xx or 5xx replies; 0 means both.
var textRules = []struct {
	substr  string
	outcome Outcome
	class   int
}{
	// Policy blocks: the client, not the mailbox, was judged.
	{"spamhaus", Blocked, 0},
	{"spamcop", Blocked, 0},
	{"barracudacentral", Blocked, 0},
	{"blocklist", Blocked, 0},
	{"block list", Blocked, 0},
	{"blacklist", Blocked, 0},
	{"dnsbl", Blocked, 0},
	{"rbl", Blocked, 0},
	{"reputation", Blocked, 0},
	{"blocked using", Blocked, 0},
	{"client host rejected", Blocked, 0},
	{"your ip", Blocked, 0},
	{"reverse dns", Blocked, 0},
	{"reverse hostname", Blocked, 0},
	{"ptr record", Blocked, 0},
	{"rdns", Blocked, 0},
	{"helo command rejected", Blocked, 0},
	{"sender address rejected", Blocked, 0},
	{"not authorized to send", Blocked, 0},
	{"administrative prohibition", Blocked, 0},
	{"denied by policy", Blocked, 0},
	{"rejected by policy", Blocked, 0},
	{"invalid helo", Blocked, 0},
	{"bad helo", Blocked, 0},
	{"sender verify failed", Blocked, 0},
	{"(con:b1)", Blocked, 0}, // AOL: the sending server sent too much spam
	{"(rly:b", Blocked, 0},   // AOL: the sending IP is blocked
	// Yahoo's deferrals of a sender (volume, complaints): before the
	// block words, which some of them hold; temporary, with a retry time.
	{"[ts01]", RateLimited, 4},
	{"[tss04]", RateLimited, 4},
	{"banned", Blocked, 0},
	{"blocked", Blocked, 0},

	// Greylisting and rate limits; the generic "try again later" last.
	{"greylist", Greylisted, 4},
	{"graylist", Greylisted, 4},
	{"too many recipients", RateLimited, 0},
	{"too many connections", RateLimited, 0},
	{"rate limit", RateLimited, 0},
	{"rate that prevents additional messages", RateLimited, 4}, // Gmail 4.2.1
	{"too many messages", RateLimited, 0},
	{"too fast", RateLimited, 0},
	{"server busy", RateLimited, 4},
	{"internal resource is temporarily unavailable", Greylisted, 4}, // Mimecast's greylisting
	{"not yet authorized to deliver", Greylisted, 4},                // Exim's greylisting
	{"try again later", Greylisted, 0},                              // on a 5xx: temporary, no verdict (see refine)
	{"please retry later", Greylisted, 0},

	// Quota.
	{"over quota", MailboxFull, 0},
	{"quota exceeded", MailboxFull, 0},
	{"mailbox is full", MailboxFull, 0},
	{"mailbox full", MailboxFull, 0},
	{"out of storage", MailboxFull, 0},

	// Disabled mailboxes.
	{"account is disabled", MailboxDisabled, 5},
	{"account has been disabled", MailboxDisabled, 5},
	{"mailbox disabled", MailboxDisabled, 5},
	{"mailbox is disabled", MailboxDisabled, 5},
	{"inactive", MailboxDisabled, 5},
	{"suspended", MailboxDisabled, 5},

	// Domains the server does not take mail for.
	{"relay access denied", DomainRejectsMail, 5},
	{"relaying denied", DomainRejectsMail, 5},
	{"relay not permitted", DomainRejectsMail, 5},
	{"not permitted to relay", DomainRejectsMail, 5},
	{"we do not relay", DomainRejectsMail, 5},
	{"isn't in my list of allowed rcpthosts", DomainRejectsMail, 5},

	// Unknown mailboxes. Microsoft 365's directory-based edge blocking
	// answers a recipient missing from the tenant's directory with
	// "550 5.4.1 Recipient address rejected: Access denied. AS(...)".
	{"access denied. as(", MailboxNotFound, 5},
	{"user unknown", MailboxNotFound, 5},
	{"unknown user", MailboxNotFound, 5},
	{"no such user", MailboxNotFound, 5},
	{"user not found", MailboxNotFound, 5},
	{"no such mailbox", MailboxNotFound, 5},
	{"no such recipient", MailboxNotFound, 5},
	{"does not exist", MailboxNotFound, 5},
	{"doesn't exist", MailboxNotFound, 5},
	{"doesn't have a", MailboxNotFound, 5}, // Yahoo: 554 delivery error: dd This user doesn't have a yahoo.com account
	{"unrouteable address", MailboxNotFound, 5},
	{"invalid recipient", MailboxNotFound, 5},
	{"recipient not found", MailboxNotFound, 5},
	{"recipientnotfound", MailboxNotFound, 5},
	{"mailbox not found", MailboxNotFound, 5},
	{"invalid mailbox", MailboxNotFound, 5},
	{"not our customer", MailboxNotFound, 5},

	// Generic refusals: the words of RFC 5321's 550 and of policy
	// rejections alike, so they say nothing on their own.
	{"address rejected", Rejected, 5},
	{"mailbox unavailable", Rejected, 5},
}
