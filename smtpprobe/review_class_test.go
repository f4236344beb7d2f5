package smtpprobe

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Review rev-class: adversarial tests of the reply parser and classifier
// with real reply texts. Each row that fails is a finding; the comment
// says what is wrong, what the right outcome is, and why. The rows that
// pass guard something rules_test.go and reply_test.go do not.

// reviewClassRows: real replies (client IPs and addresses as published, or
// replaced where the source hid them) with the outcome they must get.
var reviewClassRows = []struct {
	name   string
	source string
	reply  string
	want   Outcome
}{
	// FINDING S1 (wrong definite verdict). AOL refuses a sending server
	// that sent too much spam with "521 5.2.1 : (CON:B1)". Classify gives
	// DomainRejectsMail: byCode(521) wins and the enhanced code and the
	// text are never read (Classify skips byEnhanced when out is
	// DomainRejectsMail, and no text rule knows "(con:b1)"). verify maps
	// DomainRejectsMail to undeliverable with no evidence at all. The reply
	// judges the client, not the domain: Blocked.
	{"aol-521-conb1", "https://knownhost.com/kb/?p=5771 (AOL SMTP Error 521 example)",
		"521 5.2.1 : (CON:B1) http://postmaster.info.aol.com/errors/554conb1.html", Blocked},

	// FINDING S2 (wrong definite verdict). AOL answered an overload with a
	// permanent code and "try again later" (MailChannels, 2012). Classify
	// gives DomainRejectsMail: refine turns "try again later" on a 5xx into
	// TemporaryFailure only when the codes said Rejected. The text says
	// the refusal is temporary and names no reason about the domain, so no
	// verdict: TemporaryFailure (as "550 Try again later" gets in
	// rules_test.go).
	{"aol-521-try-later", "http://blog.mailchannels.com/2012/10/aol-accidentally-rejects-millions-of-messages",
		"521 5.2.1 Service unavailable. Please try again later.", TemporaryFailure},

	// FINDING S3 (wrong reason, and an egress marked for a mailbox answer).
	// Postfix quotes the recipient in its refusal. The block rules are
	// plain substrings of the whole text, so a recipient whose address
	// holds "rbl" (marble, warble, verbling, ...) or "reputation" turns a
	// 550 5.1.1 "User unknown" into Blocked: a policy-block text beats
	// even a specific code (refine). The reply is the RFC 3463 X.1.1 "bad
	// destination mailbox address": MailboxNotFound. Rule text should be
	// matched in the text with the quoted addresses taken out.
	{"address-holds-rbl", "Postfix's reply to an unknown virtual recipient (as testsmtp.Mailboxes and rules_test.go have it); the domain is the reader's data",
		"550 5.1.1 <jo@marbleworks.com>: Recipient address rejected: User unknown in virtual mailbox table", MailboxNotFound},
	{"address-holds-reputation", "Postfix's reply to an unknown virtual recipient; the local part is the reader's data",
		"550 5.1.1 <online.reputation@example.com>: Recipient address rejected: User unknown in virtual mailbox table", MailboxNotFound},
	{"address-holds-banned", "Postfix's reply to an unknown virtual recipient; the local part is the reader's data",
		"550 5.1.1 <bannedbooks@example.com>: Recipient address rejected: User unknown in virtual mailbox table", MailboxNotFound},

	// FINDING S6 (greylisting not known: no retry). Mimecast greylists
	// with this 451 (egress/rules_test.go's Mimecast greylisting row);
	// egress.Classify knows it as greylisting, Classify gives
	// TemporaryFailure, so verify never parks and retries it (verify's
	// TestReviewClassGreylistingWordings). Greylisted.
	{"mimecast-greylisting", "https://dwlistore.dwli.org/knowledgebase/444/Emails-Not-Sending-to-Mimecast-Recipients-.html",
		"451 Internal resource is temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451 [Aj3QXapeMpqZYaeFwWhjzw.us32]", Greylisted},
	// FINDING S7, the same for Exim's greylisting wording ("Please try
	// later" is not "try again later"). Greylisted.
	{"exim-greylisting", "https://pastebin.com/6G7q8H39 (Exim greylisting; egress/rules_test.go's row)",
		"451 216.194.173.80 is not yet authorized to deliver mail from <chris@gocleanse.net> to <docs@inmotionhosting.com>. Please try later.", Greylisted},

	// Passing checks that guard what rules_test.go does not.
	//
	// A multi-line reply whose first line is a policy code and whose
	// later line reads like an unknown user: only the first line's
	// enhanced code counts (readReply), and 5.7.x is never MailboxNotFound.
	{"multiline-policy-first", "constructed, no provider's reply: the parser's edge (RFC 3463 section 2 asks one enhanced code per reply)",
		"550-5.7.1 Recipient verification failed\r\n550-5.1.1 user unknown\r\n550 5.7.1 Access denied", Blocked},
	// An enhanced code of another class than the basic code is ignored
	// (readReply keeps it in the text), and a 5.x.x under a 4xx never
	// makes the reply permanent (RFC 3463 section 2: the class must agree).
	{"450-with-5.1.1", "constructed from Postfix's wording: the parser's edge (RFC 3463 section 2: the class agrees with the reply code)",
		"450 5.1.1 <jdoe@example.com>: Recipient address rejected: User unknown in local recipient table", TemporaryFailure},
	// ... and a 4.x.x under a 550 proves nothing about the mailbox.
	{"550-with-4.7.1", "constructed from Postfix's wording: the parser's edge (RFC 3463 section 2)", "550 4.7.1 <jdoe@example.com>: Recipient address rejected: Access denied", Rejected},
	// Non-ASCII text with a specific code: the code decides.
	{"non-ascii-5.1.1", "constructed: localized UTF-8 text after a specific code (RFC 6531 servers may send UTF-8)",
		"550 5.1.1 Пользователь не найден / user not found: <jdoe@example.ru>", MailboxNotFound},
}

func TestReviewClassReplies(t *testing.T) {
	t.Parallel()
	for _, row := range reviewClassRows {
		r := replyFrom(t, row.reply)
		if got := Classify(r); got != row.want {
			t.Errorf("%s: Classify(%q) = %v, want %v\n  source: %s", row.name, shorten(row.reply), got, row.want, row.source)
		}
	}
}

// FINDING S3, the property: whatever a recipient address says, it never
// changes what a reply quoting it means. Every block substring of
// rules.go that can stand in a domain label (letters and digits only)
// is put into the recipient's domain of a 550 5.1.1 reply.
func TestReviewClassAddressNeverDecides(t *testing.T) {
	t.Parallel()
	var bad []string
	for _, ru := range textRules {
		if ru.outcome != Blocked || strings.ContainsAny(ru.substr, " .[]()") {
			continue
		}
		addr := "jo@" + ru.substr + "s.example"
		r := replyFrom(t, "550 5.1.1 <"+addr+">: Recipient address rejected: User unknown in virtual mailbox table")
		if got := Classify(r); got != MailboxNotFound {
			bad = append(bad, ru.substr+"→"+got.String())
		}
	}
	if len(bad) > 0 {
		t.Errorf("a 550 5.1.1 quoting a recipient whose domain holds a block word is not mailbox_not_found: %v", bad)
	}
}

// FINDING S4 (wrong reason that changes what the user does). Google's MX
// hosts serve many domains, and refuse a second recipient domain in one
// transaction: "451 4.3.0 Multiple destination domains per transaction is
// unsupported." (https://github.com/dcposch/scramble/issues/88). The
// refusal is about the transaction's make-up, like RFC 5321 section
// 4.5.3.1.10's "452 too many recipients": a new transaction gets the
// recipient judged. IsRecipientLimit does not know it, so the session
// (rcptBatch) does not retry it in a new transaction, and verify ends such
// addresses unknown/temporary_failure (see verify's
// TestReviewClassGoogleMultipleDomains).
func TestReviewClassMultipleDomainsIsATransactionLimit(t *testing.T) {
	t.Parallel()
	r := replyFrom(t, "451 4.3.0 Multiple destination domains per transaction is unsupported.  Please try again.")
	if !IsRecipientLimit(r) {
		t.Errorf("IsRecipientLimit(%q) = false: the recipient is never asked in a transaction of its own domain", r)
	}
}

// FINDING S5 (wrong reason). Postfix answers its MAIL FROM restrictions
// at RCPT (smtpd_delay_reject=yes, the default; postconf(5)), quoting the
// sender: "450 4.1.8 <sender>: Sender address rejected: Domain not found"
// (the Postfix row of rules_test.go). otherAddress (pipeline.go) takes
// the quoted sender for another recipient's answer: the pipelined batch
// is dropped as out of step, asked again one at a time, and ends
// ProtocolError with ErrOutOfStep. The reply is about our MAIL FROM, for
// every recipient: Blocked (Classify says so of the reply itself).
func TestReviewClassSenderQuotedAtRcpt(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := rcptServer(reviewReply(450, "4.1.8", "<probe@verifier.example.net>: Sender address rejected: Domain not found"))
		defer srv.Close()
		res, _, err := probe(t, &Prober{MailFrom: "probe@verifier.example.net"}, srv, "alice@example.com", "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got := outcomes(res); !slices.Equal(got, []Outcome{Blocked, Blocked}) {
			t.Errorf("outcomes = %v, want [blocked blocked]: the reply refuses our sender, not a recipient (errors: %v, %v)", got, res[0].Err, res[1].Err)
		}
	})
}

// Passing check: a pipelined RCPT accepted after MAIL FROM was refused
// (a server that answers "250 2.1.5 Recipient OK" whatever came before)
// is never Accepted: its answer is to a transaction that does not exist
// (RFC 2920 section 3.1: the client checks each reply).
func TestReviewClassAcceptanceAfterRefusedMail(t *testing.T) {
	bubble(t, func(t *testing.T) {
		srv := rcptServer(reviewReply(250, "2.1.5", "Recipient OK"))
		srv.Handlers["MAIL"] = reviewReply(550, "5.7.1", "Sender rejected by local policy")
		defer srv.Close()
		res, _, err := probe(t, &Prober{MailFrom: "probe@verifier.example.net"}, srv, "alice@example.com", "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Outcome == Accepted || r.Outcome.Definitive() {
				t.Errorf("%s: %v after MAIL FROM was refused", r.Address, r.Outcome)
			}
		}
	})
}

// rcptServer answers every RCPT with h.
func rcptServer(h testsmtp.Handler) *testsmtp.Server {
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": h}}
}

// reviewReply answers every command it handles with one reply.
func reviewReply(code int, enhanced, text string) testsmtp.Handler {
	return func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return testsmtp.R(code, enhanced, text) }
}
