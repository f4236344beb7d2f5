package verify

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Review rev-class: real replies run end to end (session, Classify, the
// egress reading, the host's evidence, the verdict) against testsmtp
// servers. A failing test is a finding; the passing ones guard what no
// other test does.

// janeAndPostmaster accepts jane@ and postmaster@ (RFC 5321 section
// 4.5.1) of any domain and answers every other RCPT with h.
func janeAndPostmaster(h testsmtp.Handler) testsmtp.Handler {
	return func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		if strings.HasPrefix(a, "jane@") || strings.HasPrefix(a, "postmaster@") {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return h(c, cmd)
	}
}

// reviewWant is the verdict an address should get, and why.
type reviewWant struct {
	addr, why string
	status    Status
	reason    Reason
}

func checkReview(t *testing.T, got map[string]Result, wants []reviewWant) {
	t.Helper()
	for _, w := range wants {
		r := got[w.addr]
		if r.Status != w.status || r.Reason != w.reason {
			t.Errorf("%s: %v/%v (reply %v), want %v/%v: %s", w.addr, r.Status, r.Reason, r.SMTP, w.status, w.reason, w.why)
		}
	}
}

// FINDING V1 (wrong definite verdict). AOL's "521 5.2.1 : (CON:B1)"
// refuses the sending server for its spam (https://knownhost.com/kb/?p=5771);
// AOL once answered overload with "521 5.2.1 Service unavailable. Please
// try again later." (http://blog.mailchannels.com/2012/10/aol-accidentally-rejects-millions-of-messages).
// smtpprobe.Classify reads any 521 as DomainRejectsMail (neither the
// enhanced code nor the text is read), egress.Classify knows neither, and
// DomainRejectsMail needs no evidence (evidence.go: refusal): every
// address, jane@ too, ends undeliverable/domain_rejects_mail. Want
// unknown/blocked (about us) and unknown/temporary_failure (try later).
func TestReviewClassAOL521(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.add("aolblock.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"RCPT": reply(521, "5.2.1", ": (CON:B1) http://postmaster.info.aol.com/errors/554conb1.html")}})
		w.add("aolbusy.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"RCPT": reply(521, "5.2.1", "Service unavailable. Please try again later.")}})
		got := verifyAll(t, w.verifier(), []string{"jane@aolblock.com", "ghost@aolblock.com", "jane@aolbusy.com"})
		checkReview(t, got, []reviewWant{
			{"jane@aolblock.com", "AOL refuses our server, not the domain", Unknown, ReasonBlocked},
			{"ghost@aolblock.com", "AOL refuses our server, not the domain", Unknown, ReasonBlocked},
			{"jane@aolbusy.com", "the reply says try again later", Unknown, ReasonTemporaryFailure},
		})
	})
}

// FINDING V6 (wrong definite verdict). The preferred MX host is busy for
// us ("421 4.7.0 Error: too many connections from [ip]", Postfix's limit
// on our client) or down, so the job moves on (hostLevel) to a backup that
// does not relay for the domain ("550 relay not permitted", Exim's words,
// rules_test.go): DomainRejectsMail, no evidence needed, undeliverable.
// A stale backup's configuration says nothing about a mailbox the
// preferred host holds. Want unknown (rate_limited; connection_failed).
func TestReviewClassBackupRelayDenied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		relayDenied := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(550, "", "relay not permitted")}}
		w.res.MX["busy.com"] = nil
		w.addHost("busy.com", "mx1.busy.com", 10, &testsmtp.Server{Banner: testsmtp.R(421, "4.7.0", "mx1.busy.com Error: too many connections from 192.0.2.1")})
		w.addHost("busy.com", "backup.isp.net", 20, relayDenied)
		w.res.MX["down.com"] = nil
		// Nothing listens at the preferred host: connection refused.
		w.res.MX["down.com"] = append(w.res.MX["down.com"], &net.MX{Host: "mx1.down.com", Pref: 10})
		w.res.IP["mx1.down.com"] = []netip.Addr{netip.MustParseAddr("127.0.9.1")}
		w.addHost("down.com", "backup.isp2.net", 20, relayDenied)
		got := verifyAll(t, w.verifier(), []string{"jane@busy.com", "jane@down.com"})
		for _, a := range []string{"jane@busy.com", "jane@down.com"} {
			if r := got[a]; r.Status == Undeliverable {
				t.Errorf("%s: undeliverable/%v from %v, after the preferred host failed (hosts %v): a backup that does not serve the domain says nothing about the mailbox", a, r.Reason, r.SMTP, r.MXHosts)
			}
		}
	})
}

// FINDING V7 (greylisting not known). Mimecast greylists with "451
// Internal resource is temporarily unavailable" (https://dwlistore.dwli.org/knowledgebase/444/Emails-Not-Sending-to-Mimecast-Recipients-.html)
// and Exim with "<ip> is not yet authorized to deliver mail from <sender>
// to <rcpt>. Please try later." (https://pastebin.com/6G7q8H39); both are
// rows of egress's rules_test.go, where they are greylisting. smtpprobe
// reads them as TemporaryFailure ("try later" is not "try again later"):
// never retried, unknown/temporary_failure; the Exim one, quoting the
// sender first, is dropped as out of step (V3's cause): protocol_error.
// Greylisted and retried, they would get what the postgrey control gets.
func TestReviewClassGreylistingWordings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.add("postgrey.com", greyFirst(func(a string) testsmtp.Reply {
			return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/postgrey.com.html")
		}))
		w.add("mimecast-grey.com", greyFirst(func(string) testsmtp.Reply {
			return testsmtp.R(451, "", "Internal resource is temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451 [Aj3QXapeMpqZYaeFwWhjzw.us32]")
		}))
		w.add("exim-grey.com", greyFirst(func(a string) testsmtp.Reply {
			return testsmtp.R(451, "", "192.0.2.1 is not yet authorized to deliver mail from <probe@verifier.example.net> to <"+a+">. Please try later.")
		}))
		v := w.verifier()
		v.MailFrom = "probe@verifier.example.net"
		v.GreylistDelay, v.GreylistMaxWait, v.Timeout = time.Minute, 10*time.Minute, 20*time.Minute
		var addrs []string
		var wants []reviewWant
		for _, d := range []string{"postgrey.com", "mimecast-grey.com", "exim-grey.com"} {
			addrs = append(addrs, "jane@"+d, "ghost@"+d)
			wants = append(wants, reviewWant{"jane@" + d, "accepted on the retry after the greylisting", Deliverable, ReasonAccepted},
				reviewWant{"ghost@" + d, "550 5.1.1 on the retry after the greylisting", Undeliverable, ReasonMailboxNotFound})
		}
		checkReview(t, verifyAll(t, v, addrs), wants)
	})
}

// greyFirst answers the first RCPT of each address with grey(address),
// and from then on accepts jane@ and postmaster@ and refuses the rest
// with Postfix's 550 5.1.1.
func greyFirst(grey func(addr string) testsmtp.Reply) *testsmtp.Server {
	var mu sync.Mutex
	seen := map[string]bool{}
	after := janeAndPostmaster(testsmtp.Mailboxes().Handlers["RCPT"])
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		mu.Lock()
		first := !seen[a]
		seen[a] = true
		mu.Unlock()
		if first {
			return grey(a)
		}
		return after(c, cmd)
	}}}
}

// FINDING V2 (verdicts lost; an unknown user reported as a block).
// smtpprobe's block words are substrings of the whole text, and Postfix
// quotes the recipient: at a domain whose name holds "rbl" (marble,
// verbling), "550 5.1.1 <..>: User unknown" is Blocked. ghost@ ends
// unknown/blocked, and jane@ unknown/cannot_verify: the random addresses'
// refusals read Blocked, which judges nothing (answer.judges). The same
// server under another name gives both verdicts (stoneworks.com). With
// egresses, egress.Classify also marks the egress (dnsbl-listed).
func TestReviewClassQuotedAddressWords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.add("marbleworks.com", testsmtp.Mailboxes("jane@marbleworks.com"))
		w.add("stoneworks.com", testsmtp.Mailboxes("jane@stoneworks.com"))
		got := verifyAll(t, w.verifier(), []string{"jane@marbleworks.com", "ghost@marbleworks.com", "jane@stoneworks.com", "ghost@stoneworks.com"})
		checkReview(t, got, []reviewWant{
			// The baseline: these pass.
			{"jane@stoneworks.com", "baseline", Deliverable, ReasonAccepted},
			{"ghost@stoneworks.com", "baseline", Undeliverable, ReasonMailboxNotFound},
			// The finding.
			{"jane@marbleworks.com", "the same server as stoneworks.com; 'rbl' is in the domain's name", Deliverable, ReasonAccepted},
			{"ghost@marbleworks.com", "550 5.1.1 User unknown, quoting an address that holds 'rbl'", Undeliverable, ReasonMailboxNotFound},
		})
	})
}

// FINDING V3 (wrong reason). Postfix applies MAIL FROM restrictions at
// RCPT (smtpd_delay_reject=yes, the default), quoting the sender: "450
// 4.1.8 <sender>: Sender address rejected: Domain not found"; United
// Internet refuses SPF failures so ("550 <sender>: Reject due to SPF
// policy ...", https://smtp.codes/unitedinternet/). smtpprobe's
// otherAddress takes the quoted sender for another command's answer: the
// batch is dropped as out of step, and every address ends
// unknown/protocol_error. Want unknown/blocked: our MAIL FROM is refused.
func TestReviewClassSenderRefusedAtRcpt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.add("postfix-sender.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"RCPT": reply(450, "4.1.8", "<probe@verifier.example.net>: Sender address rejected: Domain not found")}})
		w.add("gmx-spf.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"RCPT": reply(550, "", "<probe@verifier.example.net>: Reject due to SPF policy. The originating IP of the message is not permitted by the domain owner")}})
		v := w.verifier()
		v.MailFrom = "probe@verifier.example.net"
		got := verifyAll(t, v, []string{"jane@postfix-sender.com", "bob@postfix-sender.com", "jane@gmx-spf.com"})
		checkReview(t, got, []reviewWant{
			{"jane@postfix-sender.com", "the server refuses our MAIL FROM domain", Unknown, ReasonBlocked},
			{"bob@postfix-sender.com", "the server refuses our MAIL FROM domain", Unknown, ReasonBlocked},
			{"jane@gmx-spf.com", "the server refuses our egress under our SPF record", Unknown, ReasonBlocked},
		})
	})
}

// FINDING V4 (wrong reason). Google's MX hosts refuse a second recipient
// domain in one transaction: "451 4.3.0 Multiple destination domains per
// transaction is unsupported." (https://github.com/dcposch/scramble/issues/88).
// verify puts two domains of one host in one transaction; smtpprobe reads
// the reply as TemporaryFailure, not a transaction limit
// (IsRecipientLimit), so the second domain's addresses are never asked in
// a transaction of their own: unknown/temporary_failure on every run.
// Fixed: the session learns Quirks.OneDomainPerTx (a new transaction
// where the domain changes), and take plans one domain a batch there.
func TestReviewClassGoogleMultipleDomains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		host := w.add("first-gsuite.com", oneDomainPerTransaction())
		w.res.MX["second-gsuite.com"] = []*net.MX{{Host: host, Pref: 10}}
		addrs := []string{"jane@first-gsuite.com", "ghost@first-gsuite.com", "jane@second-gsuite.com", "ghost@second-gsuite.com"}
		got := verifyAll(t, w.verifier(), addrs)
		checkReview(t, got, []reviewWant{
			{"jane@first-gsuite.com", "an existing mailbox", Deliverable, ReasonAccepted},
			{"ghost@first-gsuite.com", "550 5.1.1 in a transaction of its own domain", Undeliverable, ReasonMailboxNotFound},
			{"jane@second-gsuite.com", "an existing mailbox", Deliverable, ReasonAccepted},
			{"ghost@second-gsuite.com", "550 5.1.1 in a transaction of its own domain", Undeliverable, ReasonMailboxNotFound},
		})
	})
}

// oneDomainPerTransaction is a Google-like MX: it accepts jane@ and
// postmaster@, answers Gmail's 550 5.1.1 for other recipients, and refuses
// any recipient whose domain is not the transaction's first one.
func oneDomainPerTransaction() *testsmtp.Server {
	var mu sync.Mutex
	first := map[int]string{} // per connection: the transaction's domain
	reset := func(c *testsmtp.Conn, code int, enh, text string) testsmtp.Reply {
		mu.Lock()
		delete(first, c.Index)
		mu.Unlock()
		return testsmtp.R(code, enh, text)
	}
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
		"MAIL": func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply { return reset(c, 250, "2.1.0", "OK") },
		"RSET": func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply { return reset(c, 250, "2.1.5", "Flushed") },
		"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			a := rcptAddress(cmd.Arg)
			_, dom, _ := strings.Cut(a, "@")
			mu.Lock()
			f, ok := first[c.Index]
			if !ok {
				first[c.Index], f = dom, dom
			}
			mu.Unlock()
			if f != dom {
				return testsmtp.R(451, "4.3.0", "Multiple destination domains per transaction is unsupported.  Please try again.")
			}
			return janeAndPostmaster(reply(550, "5.1.1", "The email account that you tried to reach does not exist."))(c, cmd)
		},
	}}
}

// Passing guards: with the evidence that makes a generic refusal count
// present (jane@ and postmaster@ accepted in the same flush, after the
// refusal), these replies still never end undeliverable, and a RCPT 250
// after a refused MAIL FROM never ends deliverable. No other test runs
// them end to end with that evidence present.
func TestReviewClassNeverDefinite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		for dom, h := range map[string]testsmtp.Handler{
			// A 4xx whose enhanced code says "bad mailbox": RFC 3463
			// section 2, the class must agree; a 4xx is never permanent.
			"four-five.com": reply(450, "5.1.1", "<x>: Recipient address rejected: User unknown in local recipient table"),
			// Gmail's temporary over-quota: risky at most.
			"gmail-quota.com": reply(452, "4.2.2", "The email account that you tried to reach is over quota."),
			// A per-recipient policy refusal (5.7.1) is not "no such user".
			"policy.com": reply(550, "5.7.1", "<x>: Recipient address rejected: Access denied"),
			// The Gmail recipient-rate deferral (about the recipient, 4xx).
			"gmail-rate.com": reply(450, "4.2.1", "The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered."),
		} {
			w.add(dom, &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": janeAndPostmaster(h)}})
		}
		w.add("mail-refused.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"MAIL": reply(550, "5.7.1", "Sender rejected by local policy"),
			"RCPT": reply(250, "2.1.5", "Recipient OK"),
		}})
		addrs := []string{"ghost@four-five.com", "ghost@gmail-quota.com", "ghost@policy.com", "ghost@gmail-rate.com",
			"jane@four-five.com", "jane@mail-refused.com", "ghost@mail-refused.com"}
		got := verifyAll(t, w.verifier(), addrs)
		for _, a := range addrs {
			r := got[a]
			switch {
			case strings.HasPrefix(a, "ghost@") && r.Status == Undeliverable:
				t.Errorf("%s: undeliverable/%v from %v", a, r.Reason, r.SMTP)
			case strings.HasSuffix(a, "@mail-refused.com") && r.Status == Deliverable:
				t.Errorf("%s: deliverable although MAIL FROM was refused (%v)", a, r.SMTP)
			}
		}
		if r := got["ghost@gmail-quota.com"]; r.Status == Deliverable || r.Status == Undeliverable {
			t.Errorf("ghost@gmail-quota.com: %v/%v from a 452 4.2.2", r.Status, r.Reason)
		}
	})
}

// FINDING V5 (egress blocks and throttles not moved). One of two egresses
// draws, at every RCPT, a refusal about it alone that egress.Classify does
// not know (its E1, E2, E5): Microsoft's 5.7.511 (https://pastebin.com/JEGXAxrE),
// Gmail's NotAuthorizedError (https://www.spamresource.com/2024/04/gmail-rejection-your-sending-ip-address.html),
// web.de's policy-violations deferral (https://new-faq.comservice-ffo.de/smtp-fehlermeldungen-e-mail-fehler/).
// As in TestEgressBadSourceMovesWork, every verdict should come through
// the healthy egress; the work is not moved (againElsewhere) and ends
// unknown, and the egress is never marked.
func TestReviewClassEgressBlockNotMoved(t *testing.T) {
	for _, tc := range []struct {
		name string
		rcpt testsmtp.Reply
		to   egress.State
	}{
		// The control, which passes: a wording egress.Classify knows.
		{"control: spamhaus listing", testsmtp.R(554, "5.7.1", "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org"), egress.StateBlocked},
		{"microsoft 5.7.511", testsmtp.R(550, "5.7.511", "Access denied, banned sender[127.0.0.2]. To request removal from this list please forward this message to delist@messaging.microsoft.com. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653. AS(508) [SN1NAM04FT013.eop-NAM04.prod.protection.outlook.com]"), egress.StateBlocked},
		{"gmail NotAuthorizedError", testsmtp.R(550, "5.7.1", "[127.0.0.2] The IP you're using to send mail is not authorized to send email directly to our servers. Please use the SMTP relay at your service provider instead. For more information, go to https://support.google.com/mail/?p=NotAuthorizedError"), egress.StateBlocked},
		{"web.de policy violations", testsmtp.R(450, "", "Reject due to policy violations."), egress.StateThrottled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcpt := tc.rcpt
			w := newEgressWorld(t, "127.0.0.2", sourceRule{rcpt: &rcpt})
			v, events := w.verifier(t, 2, generous)
			res := w.check(t, v)
			if n := w.right(res); n != len(w.addrs) {
				t.Errorf("%d of %d verdicts right; want all, through the healthy egress:%s", n, len(w.addrs), brief(res))
			}
			if !hasEvent(*events, "e2", tc.to) {
				t.Errorf("no event moving e2 to %s: %+v", tc.to, *events)
			}
		})
	}
}

// FINDING V8 (a banner block not moved). T-Online refuses a listed IP in
// its greeting: "554 IP=<ip> - A problem occurred. (Ask your postmaster
// ...) (BL)" (https://www.spamresource.com/2020/06/whoops-t-onlinede-not-accepting-mail.html).
// egress.Classify's banner-554 holds at StageGreeting only, but
// classifyResult gives a result with no RCPT (Seq 0, engine.openFailed)
// StageMail, where the text has none of refused-before-rcpt's words:
// againElsewhere does not move the refused batch, which ends
// unknown/blocked. The stage should be egress.StageOf(ReplyError.Cmd).
func TestReviewClassEgressBannerBlockNotMoved(t *testing.T) {
	for _, tc := range []struct{ name, banner string }{
		// The control, which passes: the text has a word of refused-before-rcpt.
		{"control: banner naming the block", "mx.example.com Your IP 127.0.0.2 is blocked"},
		{"t-online (BL)", "IP=127.0.0.2 - A problem occurred. (Ask your postmaster for help or to contact tosa@rx.t-online.de to clarify.) (BL)"},
	} {
		t.Run(tc.name, func(t *testing.T) { bannerWorld(t, tc.banner) })
	}
}

// bannerWorld runs newEgressWorld's addresses through two egresses where
// the server greets the first one, 127.0.0.2, with 554 and the text.
func bannerWorld(t *testing.T, text string) {
	l, err := net.Listen("tcp", "127.0.3.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	base := newEgressWorld(t, "127.0.0.2", sourceRule{}) // its server gives the mailbox answers
	banned := &testsmtp.Server{Banner: testsmtp.R(554, "", text)}
	t.Cleanup(banned.Close)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.2:") {
				banned.ServeConn(c)
			} else {
				base.server.srv.ServeConn(c)
			}
		}
	}()
	t.Cleanup(func() { l.Close() })
	w := &egressWorld{res: base.res, port: l.Addr().(*net.TCPAddr).Port, server: base.server, known: base.known, addrs: base.addrs}
	v, events := w.verifier(t, 2, generous)
	res := w.check(t, v)
	if n := w.right(res); n != len(w.addrs) {
		t.Errorf("%d of %d verdicts right; want all, through the healthy egress:%s", n, len(w.addrs), brief(res))
	}
	if !hasEvent(*events, "e2", egress.StateBlocked) {
		t.Errorf("no event moving e2 to blocked: %+v", *events)
	}
}
