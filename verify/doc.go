// Package verify tells whether email addresses can receive mail, without
// sending any, by composing the layers of the module: syntax and
// suggestions, the disposable/free/role lists, DNS (package mx), the SMTP
// probe (package smtpprobe) and catch-all detection (package catchall).
//
// A [Verifier] is configured by its fields (the zero value works) and is
// safe for concurrent use. [Verifier.Verify] checks one address;
// [Verifier.VerifySeq] streams many, with bounded memory, grouping them by
// mail server so that one DNS lookup per domain and one SMTP session per
// server serve them all, across domains; [Verifier.VerifyAll] does the
// same over a slice.
//
// Every address gets a [Result]: a [Status], one [Reason], flags and the
// evidence (MX hosts, the deciding SMTP reply, retry_after). Verdicts are
// data, not errors. The JSON form of Result is a stable contract.
//
// # The soundness rule
//
// A definite verdict (deliverable, undeliverable, risky/mailbox_full)
// needs evidence about that mailbox from the server that answered.
// Everything else is unknown (or risky/catch_all) with the precise reason:
// where the protocol cannot know (catch-all domains, greylisting, our IP
// blocked, policy refusals, a resolver that lies), mailverify says so and
// never guesses.
//
// # The verdict contract
//
// deliverable:
//   - accepted: RCPT got 250/251 from an MX host that was shown, on the
//     same (domain, host), to reject a random address (catch_all "no"),
//     and that refused a recipient in a way that counts (see "Evidence
//     is scoped" below) after this acceptance; or the domain is a
//     provider's own consumer domain (gmail.com, outlook.com, ...) and
//     the host that accepted is that provider's.
//   - delivered_before: the host accepts every recipient (or will not
//     tell), and History records a delivery to the address within
//     FeedbackMaxAge (Result.Feedback).
//   - provider_confirmed: the host could not tell, and the caller's
//     ProviderProbe said the account exists (Result.ProviderProbe).
//
// undeliverable:
//   - invalid_syntax: the address breaks RFC 5321/6531 (or the Policy).
//   - domain_not_found: NXDOMAIN, from a resolver that answers the canary
//     domain (see ResolverCanary); a resolver that denies it too gives
//     unknown/dns_error.
//   - no_mail_server: no MX records and no A/AAAA for an implicit MX.
//   - null_mx: the domain publishes "MX 0 ." (RFC 7505).
//   - unroutable_mx: every MX address is loopback, private or reserved.
//   - mailbox_not_found: a specific "no such mailbox" (5.1.1, 5.1.10, the
//     texts in smtpprobe's rules) or a 5xx that names no reason, either
//     followed in the same transaction and flush by an acceptance of
//     another recipient of the domain (for a specific one, postmaster@
//     the domain too), see "Evidence is scoped" below; or a hard
//     bounce in History within FeedbackMaxAge (Result.Feedback) where the
//     server said nothing definite about the mailbox now (catch_all,
//     cannot_verify, any unknown): a fresh deliverable, undeliverable or
//     mailbox_full outranks it, and an event dated in the future is no
//     evidence; or the caller's
//     ProviderProbe said the account does not exist.
//   - mailbox_disabled: 5.2.1 or a "disabled" text, followed as a
//     specific mailbox_not_found is.
//   - domain_rejects_mail: the server takes no mail for the domain (5.1.2,
//     521, 556, relaying denied).
//
// risky:
//   - catch_all: RCPT accepted by a host that also accepted a random address.
//   - mailbox_full: 552, 5.2.2 or a quota text, followed as a specific
//     mailbox_not_found is.
//   - disposable: the domain is on the disposable list, or its MX is a
//     disposable-mail service's (risk.disposable_network).
//   - possible_typo: the domain is likely a misspelling (see Suggestion) and
//     nothing says the address is undeliverable.
//
// unknown:
//   - cannot_verify: 252; an acceptance whose host's catch-all answer is
//     unknown (the probe was skipped, unclear, or refused for a reason that
//     says nothing); providers that accept every RCPT and bounce later
//     (Yahoo; a Microsoft 365 tenant that accepted the random address,
//     flagged risk.accepts_all_by_policy instead of catch_all).
//   - greylisted: still deferred after the retries the budget allowed;
//     retry_after is the server's own stated delay when it gave one.
//   - rate_limited: 421, 4.2.1, recipient limits (452/552 "too many
//     recipients", X.5.3), rate texts, also on 5xx; and, with Egresses,
//     every egress allowed for the provider out of budget (or throttled)
//     past the address's budget, with retry_after from the earliest refill;
//     and an egress store (EgressStore: health or budgets) that fails,
//     with retry_after egress.StoreBackoff and Err an *egress.StoreError
//     (no session starts whose back-off or budget cannot be read).
//   - soft_limited: the host accepted the address, then accepted a random
//     address of the domain after having refused one: it has started to
//     accept everyone (a soft limit on the prober, seen by the canary,
//     see "Evidence is scoped"), so the acceptances it was to prove say
//     nothing. The domain's catch-all answer is dropped, the egress is
//     marked soft-limited for the provider; retry_after is when its
//     back-off ends.
//   - blocked: the server judged us, not the mailbox: 5.7.x, sender-side
//     codes (X.1.7, X.1.8, "sender verify failed"), HELO, blocklist or
//     reputation texts, a 554 banner; and a 5xx that names no reason that
//     does not count as a mailbox verdict: from a host that refused every
//     recipient alike, or one that began refusing after it had accepted
//     (a recipient cap, harvest protection), still so when asked once
//     more on a fresh connection; the same of a specific refusal (5.1.1,
//     5.2.1, 5.2.2) that no acceptance of the domain followed (a harvest
//     protection may say it of everyone). Any refusal whose text is about the
//     egress (package egress's Classify: RBL listings, S3150, banned
//     sending IP, PTR refusals) is blocked whatever its code; with
//     Egresses, an address no egress could carry (all blocked for the
//     provider) is blocked with retry_after.
//   - temporary_failure: any other 4xx, and 5xx about the mail system
//     rather than the mailbox (X.2.3, X.3.x, X.4.x, X.6.x); and any
//     refusal for the receiver's own misconfiguration (a blocklist asked
//     through a public resolver, a dead blocklist), whatever its code and
//     stage, with a *ReceiverError: it refuses every sender alike.
//   - timeout, connection_failed, tls_error, protocol_error: the session
//     did not get far enough to ask.
//   - dns_error: SERVFAIL, DNS timeouts, a resolver that cannot be trusted.
//   - smtp_not_checked: SMTP was skipped (SkipSMTP, Offline, an address
//     literal), or the Verifier is misconfigured (Err says how).
//   - smtputf8_unsupported: the address needs SMTPUTF8 and the server
//     lacks it.
//
// # Evidence is scoped
//
// Servers count our recipients, errors and connections, and change their
// answers because of us: a recipient cap or harvest protection refuses
// everyone from some point on, with a 5xx that names no reason or in the
// mailbox's own words (550 5.1.1, 5.2.1, 552 5.2.2), per connection, per
// transaction, per recipient domain, per client, for a while; a soft limit
// accepts everyone (per client, connection, transaction or recipient
// domain). A comparison between two replies proves something only where
// the server could not have switched between them:
//   - a refusal, specific (5.1.1, 5.2.1, 5.2.2, the texts in smtpprobe's
//     rules) or naming no reason, is a mailbox verdict only when an
//     address of the same domain was accepted after it in the same
//     transaction and the same flush of commands (one write reaches the
//     server at once): a protection that had begun, for the connection,
//     the transaction, the domain or the client, would have refused that
//     one too. An address the host accepted before in the run, accepted
//     again, makes no specific refusal count: a protection that spares
//     the recipients it has accepted keeps accepting exactly those. Where
//     the server pipelines, each batch's flush ends with a control for
//     each of its domains (after the canaries): postmaster@ the domain,
//     which RFC 5321 (4.5.1) requires every domain to accept and which
//     makes only a specific refusal count, or, where the host refused
//     postmaster@ and never accepted it and has refused naming no
//     reason, an address of the domain the host accepted before, which
//     makes only a refusal naming no reason count; a specific refusal
//     there counts only with a first acceptance of an address after it,
//     and ends unknown/blocked without one (the result's error says so). Where the server does not pipeline, a specific
//     refusal counts with a first acceptance of an address of the domain
//     later in its transaction. On a server that judges only the first
//     recipient of a connection (the count learned is one), a specific
//     refusal of the first counts; where it judges two or more, the
//     ordinary rule holds. The same holds for the random catch-all
//     address's refusal naming no reason;
//   - an acceptance is deliverable only when, besides catch_all "no", a
//     refusal of the same domain that counts (a specific one, or a
//     generic one as above) came after it in the same transaction, and,
//     where the server pipelines, in the same flush: a later flush comes
//     at least a round trip later, in which a spell of accepting everyone
//     (a rate-based harvest protection) may have ended. So on a server
//     that pipelines, each batch's flush ends with the canary: one random
//     address for each domain in it (with an accepted address after it,
//     in the same flush, where the host refuses naming no reason), after
//     that domain's addresses. And the host must have been judging the
//     domain's recipients before it: an earlier answer of the domain in
//     the same transaction (and flush, where the server pipelines) was no
//     acceptance, and no random address of the domain was accepted after
//     that one. A server that accepts the first few recipients of a
//     connection, a transaction, a flush or a domain's run blindly and
//     judges the rest refuses the canary after them; only a refusal
//     before them shows they were judged. So each batch's flush starts
//     with another random address of each of its domains (the front),
//     drawn afresh, where the server pipelines or not; an accepted front
//     leaves the flush's acceptances of its domain unproven. Without
//     pipelining, a domain whose open transaction the host has judged
//     needs no front. An acceptance the canary did not prove (it went in
//     a later flush, was greylisted, or was refused in a way that does
//     not count) or that was not fronted (its front was accepted, or the
//     session sent it again on a new connection after a break) is asked
//     again, after a front and with a canary after it, in one flush (a
//     trailing probe), at most twice. Where the server does not
//     pipeline, every command is a round trip of its own: the refusal may
//     come in a later command of the transaction (the trailing probe right
//     after the batch), provided no wait of ours (for the pace, or the
//     catch-all Detector) came between; an acceptance from an earlier
//     transaction is asked again before it, once. A server that judges
//     only the first recipient of a connection (Exchange Online) allows
//     no such comparison: there a refusal asked after the acceptance was
//     read, on a later connection, counts. Without such a refusal the
//     acceptance is unknown/cannot_verify with catch_all unknown;
//   - refusals that do not count are asked again in a new transaction
//     with a control after them (postmaster@ the domain for specific
//     ones, an address of the domain the host accepted for those naming
//     no reason), the domains of a batch in one transaction, then once more on
//     a fresh connection (with a control again); those naming no reason
//     move to the next MX host when the host refused every recipient
//     alike. A server that refused postmaster@ and never accepted it is
//     not asked it again: there a specific refusal of a domain the host
//     accepted nothing of ends unknown/blocked, without a fresh
//     connection.
//
// What stays assumed: a server that judges only the first recipient of a
// connection and accepts everyone past some count of them on one
// connection only, a server that refuses everyone and then accepts
// everyone within one flush, or one that accepts everyone and then
// judges honestly within one write (a spell that ends between two of its
// commands, after the front's), would still pass. On a server that
// does not pipeline, a spell of accepting everyone that ends in the one
// round trip between the last acceptance and the canary right after it
// (as it could between any two of our commands there) would still pass
// too: no order of commands rules it out, only asking again, and a spell
// as short as one round trip would fool that the same way.
//
// Servers that answer by place (positional.go): one that judges the first
// recipient of a domain's run and lets the next few through is caught by
// the front pair (a domain's flushes start with two random addresses
// until a pair has been refused at the start of a run) and marked where a
// random address is accepted between two refused in one flush; none of
// its acceptances is proven then. While no pair has decided, an
// acceptance needs a pair in its transaction (its flush where the server
// pipelines): two random addresses refused, in ways that judge, at the
// start of a run (one whose catch-all probe, meant to be the pair's
// first, went unanswered is asked again behind a pair). The mark is kept
// with the Verifier's state of the server address, so a later call
// proves nothing at a marked server; each call sends its own pair (a
// server may answer otherwise now). Still assumed: a server that judges the first two recipients
// of a run (or more) before letting some through, and one that behaves
// otherwise on a domain's first flush than on later ones, by place.
//
// A host that accepts an address it refused as having no mailbox (a
// harvest protection that spares the recipients it accepted before, and
// lied to our random addresses) proves no acceptance of the domain from
// then on, and no refusal of it counts (hostRun.noteFlip); the Verifier
// remembers it per server address.
//
// Of the refusals: a harvest protection that refuses everyone in the
// mailbox's words but still accepts postmaster@ (RFC 5321 asks servers
// to accept it even when they block) would have specific refusals of a
// domain the host accepted nothing of count, as would, on a server that
// does not pipeline, such a spell ending between two commands of a
// transaction, or, on a server that judges only the first recipient of a
// connection, one that counts our unknown recipients across connections.
// A protection that spares the recipients it has accepted and refuses
// everyone else in the mailbox's words still passes where it spares
// postmaster@ too (as above), where it spares the addresses it accepted
// in an earlier run of ours (the set of addresses accepted before is
// the run's), and per client across runs: a server that has flagged us and
// from then on refuses every recipient it has not accepted from us
// before, in an earlier run too, while accepting those it has, looks
// like an honest server on which every address of the list exists; no
// order of commands tells them apart, and on a catch-all domain its
// refused random addresses make the catch-all "no" and prove the
// acceptances (rev-sound, finding 2); one Verifier that learned the Yes
// in the first run keeps it for the Detector's TTL, and that saves it
// within the TTL. A server that accepts addresses that do not exist at random
// (one in a few, to poison harvested lists) is caught once the host has
// accepted a random address of a domain after refusing one (the soft
// limit's sign, see soft_limited): from then on no acceptance of the
// domain at that host is proven in the run (they end soft_limited,
// risky/catch_all or unknown/cannot_verify, as the catch-all answer asked
// again gives); verdicts given before the contradiction was seen stand
// (results stream), so some may be deliverable of addresses that do not
// exist (rev-sound, finding 4).
//
// A specific refusal still proves an acceptance before it wherever it
// stood (a server that accepts everyone and then refuses everyone in the
// mailbox's words within one flush would pass), and so still shows the
// domain not catch-all when the random address gets it. domain_rejects_mail
// (5.1.2, relaying denied) is taken wherever it stood.
//
// The canary is assumed to look like any address to the server. Its
// local part has no fixed form: each random address (catch-all probe,
// front or canary) is drawn afresh (catchall.RandomLocalPart), in the
// shape of one of the addresses of the domain it goes with, chosen at
// random (the batch's own, or the ones a trailing probe asks again; the
// domain's first addresses in the run where it goes with none): their
// separators (any atext: '.', '_', '-', '+', the apostrophe, ...), their
// runs of letters and digits, their lengths give or take one, their
// letters' case; with letters that read like syllables, at least 40 bits
// of randomness, so that it names an existing mailbox by chance with
// negligible probability, and at most 64 octets (RFC 5321; a shape that
// cannot hold 40 bits within them, mostly separators, gives way to a
// common shape of personal addresses). One that names a mailbox is only
// ever read as "accepts everyone" (catch-all, or unknown), never as a
// definite verdict. A random address refused as malformed (an X.1.3, a
// 501, a 553 that says so) answers no question and proves nothing
// (catchall.RefusesSyntax): it must be judged as a mailbox to prove
// anything. A server that keeps its answer per recipient (a front end's
// cache) and accepted everyone for a spell answers the spell's
// acceptances from its cache when they are asked again, while a random
// address drawn afresh is judged anew; so a trailing probe that asks
// acceptances again after the host accepted a random address of the
// domain asks that address again too, after its front, and, accepted
// again, it proves nothing (hostRun.spell). Only a random address the
// server deferred (a 4xx, as greylisting does), a canary or a front
// (see below), is asked again otherwise,
// by a probe that goes with addresses of its domain the server deferred
// too, on their retry (or after acceptances, a trailing probe): a
// greylisting server lets it through with them, where a new one would be
// deferred anew (so a server that defers a random address it has picked
// out, and refuses it when it comes back, still passes). No code
// recognises our addresses by their form (the engine marks in
// transcripts the ones it sent). What remains: the canary proves
// acceptances only where the server treats the addresses that do not
// exist alike. A catch-all that refuses some of them by a feature of the
// address, and finds the canary among those, still passes. Known such
// features (the review of the draw, rev-form, F7 to F9): length, where
// the domain's addresses are too short to carry 40 bits (u5, jsmith, or
// a fixed format such as an email-to-SMS gateway's ten-digit numbers,
// about 33 bits): the canary is longer than they are, and a server that
// refuses longer local parts (or anything but ten digits) fools it;
// names, where a server tells random syllables from people's names (a
// dictionary of names) and refuses every canary; and years, where the
// domain's addresses carry a year (jane1984) and a server refuses local
// parts whose digits read as no year (the digits are drawn uniformly). A
// server that refuses a random address as malformed in words we do not
// read so (a 550 "invalid address") is read as refusing it.
//
// A server that judges by place is caught by the front only where its
// blind acceptances come first in their count (of a connection, a
// transaction, a flush, or a domain in one of those) and it judges every
// recipient after them: one that accepts blindly some later recipients
// (every other one, those after the first refusal) and judges the random
// addresses around them would still pass. A front answered with a
// temporary failure (a greylisting) fronts nothing: behind it the server
// may be accepting everyone (a catch-all whose harvest protection's lies
// made it look judged, TestReviewGreyFindingSparesAccepted). A front the
// host deferred (and a deferred front pair) is held and asked again once
// the host's greylisting delay has passed, with the retry of the
// addresses deferred with it, which waits for it (heldfront.go); it
// fronts only addresses the host was first asked in the flush that first
// deferred it (a server that learns answers while it defers could
// refuse it from memory while it accepts everyone it has not learned,
// or forgotten). A
// front the host answered is never asked again as a front: a negative
// cache would refuse it again while the server accepts everyone else
// (rev-front, rev-front2).
//
// # Egresses
//
// With Verifier.Egresses, sessions go out through a pool (package egress):
// each is routed per (provider, mail server address) to an egress that is
// healthy and has budget, and stays on it. The per-server limits (PerHost,
// PerHostRate) hold whatever the number of egresses: egresses multiply
// the tolerance of the providers (budgets per egress and provider, every
// RCPT counted), never the pressure on one server. Replies about the
// egress change its health and never decide a mailbox; the work they
// touched is asked again through another egress, and with none left ends
// unknown (blocked, rate_limited) with retry_after. The canary (at the
// end of each batch's flush, or the trailing probe) is the canary of soft
// limits (see soft_limited above). It has no off switch
// and no CanaryEvery: it is also what proves an acceptance that no refusal
// followed, so a Verifier without it could say deliverable only of a
// fraction of the mailboxes it now proves. The public way to send no
// random address at all is SkipCatchAll, whose acceptances end
// unknown/cannot_verify. BenchmarkCanaryCost measures its cost against
// the engine with it off: about half again as many round trips (the
// canary, and the random address at the front, ride in the batch's own
// flush where the server pipelines, but each is a refusal of the
// server's error budget, and sessions renew sooner), for about three
// times the deliverable verdicts. Without Egresses
// there is one way out (Dialer), and replies about it still decide no
// mailbox.
//
// # Deadlines
//
// With Timeout, each address ends by its deadline wherever it waits
// (queued, rerouted to another MX host, in flight, parked for a
// greylisting retry, or answered and waiting for the catch-all evidence)
// with what is known then.
//
// risky also has parked_domain: with RiskDNS, the domain's name servers or
// addresses belong to a parking or domain-marketplace service (package
// risk's table), and the answer was an acceptance that proves nothing
// (catch_all, cannot_verify). A definite verdict stands, flagged; so does
// a temporary unknown (greylisted, timeout, ...), which is worth another try.
//
// Role accounts, free providers, subaddresses and SMTPUTF8 are flags, not
// reasons: an existing role mailbox is still deliverable. So are the risk
// flags in Result.Risk (parked, typo_trap, trap_local_part,
// accepts_all_by_policy), each with what was seen.
package verify
