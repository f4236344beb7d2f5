// Package egress is the verifier's model of its own ways out to the mail
// servers and of how the servers treat them: a pool of egresses (source
// addresses or SOCKS5 proxies, each with its HELO and MAIL FROM), what a
// reply says about the egress rather than the mailbox, the health of each
// (egress, provider) pair, the budgets that keep each egress inside what
// a provider tolerates, the router that picks an egress per session, and
// a detector for an outbound port 25 that is closed.
//
// # Politeness and tolerance
//
// Two limits are never confused. Politeness to a server (sessions at once
// and RCPTs per second per server address) is one budget for the whole
// verifier, kept by package verify, whatever the number of egresses: more
// egresses must never mean more pressure on one server (that would be
// snowshoeing). Tolerance per egress (what a provider accepts from one
// source address per minute, hour and day, and sessions at once, before it
// throttles or blocks it) is kept here, per (egress, provider), from the
// provider profiles. Egresses multiply tolerance, never politeness: a
// session needs both a politeness slot from verify and a lease from the
// Router.
//
// # States
//
// Each (egress, provider) pair is healthy until a reply about the egress
// (see Classify) or the engine's canary moves it:
//
//	healthy ──421 / 4.7.x rate, TSS04, 4.7.500──▶ throttled ──┐
//	healthy ──canary accepted─────────────────▶ soft_limited ─┼─ back-off ends ─▶ half_open
//	healthy ──5.7.606, S3150, RBL, PTR, 554───▶ blocked ──────┘                     │
//	half_open ──probe draws mailbox answers──▶ healthy                               │
//	half_open ──probe draws another refusal──▶ back to the adverse state, one tier up ┘
//
// Back-off climbs a ladder of tiers (by default 2m, 15m, 1h, 6h, 24h): a
// throttle starts at the first, a soft limit at the second, a block at the
// third; a failed probe, or a relapse within a day of recovering, climbs
// one more. While a pair is backed off, the Router moves its work to
// another healthy egress allowed for the provider; with none left,
// addresses end unknown (blocked or rate_limited) with retry_after, never
// undeliverable. A reply about the receiver's own misconfiguration (a
// DNSBL queried through a public resolver) is ReceiverMisconfigured:
// unknown for that address, no mark against the egress.
//
// # Canaries
//
// Soft limits (a provider that answers 250 to every RCPT from an egress it
// has tired of) show in no reply text. Finding them is the engine's job:
// on a host known not to be catch-all, a flush that carries acceptances
// ends with an RCPT for a fresh random address; if that is accepted, the
// engine drops the acceptances it covers and calls Lease.SoftLimited,
// which puts the pair in the SoftLimited state. Canaries are commands
// that may draw an error: take budget for them (Lease.Take).
//
// # Wiring
//
// The engine builds one Router (NewRouter) over the parsed egresses
// (Parse, ParseFile; WithDefaults fills in --helo/--from), a Health (with
// a Store shared by the cluster, a Hook for events) and Budgets (with
// DefaultProfiles or ParseProfiles). Per session: Route(provider, server
// address) gives a Lease whose Egress is the smtpprobe.Dialer and whose
// HELO/MailFrom identify the session; Take before each RCPT batch;
// Observe each refusal (smtpprobe's Outcome decides the mailbox, the
// Finding decides the egress); Success on mailbox answers; Release at the
// end, once the server has closed the connection too (package verify
// waits for the server's end of it, up to a second), so that the next
// session of the pair does not reach the server while it still counts
// the last one. Connection outcomes go to a Port25 detector.
//
// # One budget per pair, however many processes
//
// Health and budgets are kept in memory unless given a store. Health's
// Store and Budgets' Store (a BudgetStore) are compare-and-set maps, the
// shape of a JetStream KV bucket: every process on the same stores sees
// one state and spends one budget per (egress, provider), so two
// processes that declare the same egress (one SOCKS5 proxy, say) do not
// each spend a full budget, and a restart keeps the back-off and what was
// spent. With a BudgetStore each Take is a read and a compare-and-set of
// the pair's windows, and each session at once is a Hold that its process
// renews while the session lasts (Budgets.SessionTTL), so a process that
// dies frees its sessions. MemBudgetStore shares budgets within one
// process; the service keeps both in its cluster's KV. Politeness is not
// here: a cluster keeps it by giving each mail server to one process at a
// time.
//
// Assumptions of the shared budgets (not closed):
//   - Clocks in step, where the store keeps no clock. A window's slots
//     and a hold's Until are written on the writer's clock and read on
//     the reader's. On a ClockedStore (the service's NATS KV, whose
//     entries carry the server's time) each Budgets times them by the
//     store's clock, its offset estimated from a write of its own once a
//     minute, so a skew is closed to within the estimate's round trip
//     (and a process's clock that jumps, within a minute). On a store
//     without a clock (MemBudgetStore without Now, a BudgetStore of
//     one's own) a skew of S lets a command count S less than its
//     window, keeps a dead holder's session held S longer, or lets a
//     second session in S early: run NTP, and keep S well under a
//     window's slot (3 s for the minute) and SessionTTL.
//   - A lost hold ends its session. A holder whose renewals fail is told
//     through Budgets.AcquireWatched / Lease.Lost a quarter of SessionTTL
//     before the hold lapses, and its Lease refuses every Take from then
//     on, so no further command is sent; package verify closes the
//     session before its next flush. A flush already in flight finishes
//     its round trip, so a slow store must still answer within a quarter
//     of SessionTTL for the limit to hold to the letter.
package egress
