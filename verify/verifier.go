package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/disposable"
	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/feedback"
	"github.com/mailverify/mailverify/freemail"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/risk"
	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/mailverify/mailverify/syntax"
)

// A Verifier tells whether email addresses can receive mail, without
// sending any. The zero value works: it checks syntax with syntax.Default,
// the embedded lists, DNS from /etc/resolv.conf, and probes port 25 with
// the defaults documented per field.
//
// A Verifier is safe for concurrent use and must not be changed after its
// first use: its caches (DNS, catch-all) and limits are shared by all
// calls.
type Verifier struct {
	// Syntax is the address policy; nil means syntax.Default.
	Syntax *syntax.Policy
	// Resolver answers DNS questions; nil means an mx.DNS reading
	// /etc/resolv.conf.
	Resolver mx.Resolver
	// Dialer opens SMTP connections; nil means a net.Dialer. Set a SOCKS5
	// dialer (golang.org/x/net/proxy) to probe from another address.
	Dialer smtpprobe.Dialer
	// Disposable, Free and Relays are the lists; nil means the embedded
	// ones (disposable.Default, freemail.Default, disposable.Relays).
	Disposable, Free, Relays disposable.List

	// HELO and MailFrom identify the verifier; see smtpprobe.Prober for
	// their defaults and why a HELO name with matching PTR matters.
	HELO, MailFrom string
	// Port is the SMTP port; zero means 25.
	Port int
	// ConnectTimeout and CommandTimeout bound each SMTP connect and
	// command; zero means smtpprobe's defaults (10s, 30s). The context
	// given to Verify bounds the whole verification, and the earliest
	// deadline wins.
	ConnectTimeout, CommandTimeout time.Duration
	// Timeout, when positive, bounds each address: its DNS questions from
	// when its domain's lookup starts (past it: unknown/timeout), its SMTP
	// work from its first attempt (its mail server's queue does not count),
	// greylisting retries included. Zero: only the caller's context does.
	Timeout time.Duration
	// TLS is the STARTTLS policy; the zero value is opportunistic.
	TLS smtpprobe.TLSPolicy
	// SkipSMTP stops after DNS: verdicts are at best unknown/smtp_not_checked.
	SkipSMTP bool
	// Offline stops after syntax and the lists, with no network at all:
	// verdicts are at best unknown/smtp_not_checked.
	Offline bool
	// SkipCatchAll skips the catch-all probe. An accepted address is then
	// unknown/cannot_verify with catch_all "unknown" (deliverable needs the
	// proof the probe gives), except at a provider's own consumer domains
	// (gmail.com, outlook.com, ...), which are known not to be catch-all.
	SkipCatchAll bool
	// AllowPrivate lets mail hosts on loopback and private addresses be
	// probed (the SSRF guard of package mx is on by default).
	AllowPrivate bool

	// Concurrency bounds the SMTP sessions a VerifySeq or VerifyAll call
	// has open at once (and its DNS lookups at twice that); zero means 16.
	// When sessions wait for a place, the mail server with the most
	// addresses queued goes first: the biggest server sets the wall time.
	Concurrency int
	// PerHost bounds the concurrent sessions to one mail server address;
	// zero means 2. Servers throttle and blocklist clients that open many.
	PerHost int
	// PerHostRate bounds the RCPT commands per second to one mail server
	// address; zero means 10, a pace busy receivers tolerate. Every RCPT
	// counts (catch-all probes, controls and retries too), with a burst of
	// 10: the server sees at most 10 + PerHostRate×t in any t seconds. The
	// limits of an address hold across the Verifier's calls, whatever
	// domains or MX names lead there.
	PerHostRate float64
	// MaxRcpts caps recipients per SMTP transaction; zero means 20.
	MaxRcpts int
	// Window bounds the addresses VerifySeq and VerifyAll hold between
	// reading and yielding them that can make progress; zero means 4096.
	// Addresses that wait (greylisted until their retry, or queued deep
	// behind a server's own pace) leave the window, up to twice Window of
	// them, so that they do not starve the servers that could go. Memory
	// is bounded by three times Window addresses (about 1 KB each): at
	// most Window in the window and twice Window out of it. Counted from
	// the caller's side, from when in yields an address until the loop
	// body gets its result, at most three times Window plus two are held:
	// besides those, one read and waiting for the window, and one whose
	// result is on its way to the loop body (its place in the window is
	// free already). Reading the input waits while the window is full.
	Window int

	// GreylistDelay is the first wait before retrying a greylisted address
	// on a new session, when the server's reply states no delay of its own
	// ("try again in 5 minutes", which is then waited out instead); each
	// further retry waits twice as long, and one last retry comes at the
	// end of the budget. Zero means 1 minute. GreylistMaxWait bounds each
	// address's waiting from its own first greylisting (a domain's later
	// addresses get their own); zero means 6 minutes, which
	// covers postgrey's default delay of 300s, and the caller's context
	// (less 5s for the last session) may cut it shorter. Past it the
	// verdict is unknown/greylisted with retry_after. A server address
	// whose greylisting an address has passed teaches its delay (from
	// that address's first greylisting to the retry that passed): later
	// addresses there, stating no delay, wait that long instead.
	GreylistDelay, GreylistMaxWait time.Duration

	// RiskDNS asks DNS for each domain's name servers and addresses, once
	// per domain and at the same time as its MX lookup, to tell parked
	// domains (risk.parked, reason parked_domain). Off, they go unflagged.
	RiskDNS bool
	// Parking is the table of parking services; nil means
	// risk.DefaultParking.
	Parking *risk.Parking
	// BlocklistZones are domain blocklists (DBL/URIBL style) to ask about
	// each domain, and IPBlocklistZones address blocklists (DNSBL) to ask
	// about its mail servers' IPv4 addresses: a listing is the risk flag
	// "listed", nothing more. Off unless set: the caller chooses the zones
	// and accepts their usage terms (most forbid queries through public
	// resolvers and high volumes without a subscription).
	BlocklistZones, IPBlocklistZones []string
	// Registrations, when set, tells when domains were registered; a
	// domain registered within 30 days is flagged new_domain. It is asked
	// once per domain, beside the MX lookup (network cost: opt in).
	Registrations RegistrationSource

	// ProviderProbe, when set, is asked about the acceptances SMTP cannot
	// settle, at most ProviderProbeRate times a second (zero: 1); see
	// ProviderProbe for why the library has none of its own. It slows
	// those addresses to that rate.
	ProviderProbe     ProviderProbe
	ProviderProbeRate float64

	// DisposableMX is the table of disposable-mail services' mail hosts: a
	// domain on no list whose MX is one of them is risky/disposable with
	// risk.disposable_network. Nil means risk.DefaultDisposableMX.
	DisposableMX *risk.DisposableMX

	// History, when set, is what happened to mail sent before (bounces,
	// deliveries; see package feedback): a recent hard bounce whose reply
	// names the mailbox (not a policy, spam or expiry bounce) makes an
	// address undeliverable even on a catch-all domain, a recent delivery
	// resolves a catch-all acceptance to deliverable/delivered_before.
	// It is asked for every address with a verdict, those decided before
	// SMTP (Yahoo, SkipSMTP, DNS errors) too, but not with Offline, and
	// never while the engine's lock is held: Lookup may do network I/O.
	// FeedbackMaxAge is how old that evidence may be; zero means 90 days.
	History        feedback.History
	FeedbackMaxAge time.Duration

	// CatchAllStore, when set, shares catch-all answers with other
	// Verifiers, such as the workers of a service; see catchall.Store.
	CatchAllStore catchall.Store

	// ResolverCanary is a domain that surely has MX records, asked before
	// an NXDOMAIN answer is believed; see mx.Client.Canary. Empty means
	// "gmail.com"; "-" turns the check off.
	ResolverCanary string

	// Egresses are the ways out to the mail servers (package egress): each
	// session is routed to one, sticky per (provider, server address),
	// within its tolerance budget per provider (Profiles, nil: the embedded
	// table) and its health (EgressStore, nil: in memory; OnEgressEvent
	// hears each state change). An EgressStore that is also an
	// egress.BudgetStore keeps the budgets too, shared by every Verifier
	// on it (a cluster's workers); otherwise they are this Verifier's
	// own, in memory. Egresses multiply tolerance, never
	// politeness: PerHost and PerHostRate hold per server address whatever
	// their number. Empty: one way out, Dialer with HELO and MailFrom.
	// OnPort25Blocked hears, once per egress, that outbound port 25 looks
	// closed there; the addresses then end unknown/connection_failed.
	Egresses        []egress.Egress
	Profiles        *egress.Profiles
	EgressStore     egress.Store
	OnEgressEvent   func(egress.EgressEvent)
	OnPort25Blocked func(*egress.Port25Error)

	// Logger receives Debug records of the steps; nil means silent.
	// Records name domains and hosts, never local parts.
	Logger *slog.Logger
	// Transcript puts in each Result the SMTP conversation that decided
	// it: the lines its session's recipients share (banner, EHLO,
	// STARTTLS, MAIL, RSET) and those of its own address and of its
	// domain's random catch-all address, on the connections that carried
	// them, from their banner on; nothing addressed to another recipient,
	// of any domain. On a long session, earlier transactions are left out.
	Transcript bool
	// TranscriptWriter, when set, receives the conversation of every
	// session, a whole line at a time, with local parts of the probed
	// addresses replaced by "***" (addresses are personal data).
	TranscriptWriter io.Writer

	once     sync.Once
	tap      io.Writer // TranscriptWriter, serialized
	mxc      *mx.Client
	detector catchall.Detector
	mu       sync.Mutex
	hosts    map[string]*hostState
	eg       egressWire

	defaultDNS mx.Resolver // for RiskDNS when Resolver is nil
	probeLim   probeLimiter
	riskCache  map[string]riskEntry
	zoneCache  map[string]zoneEntry
}

// ErrConfig reports a Verifier field with an impossible value.
var ErrConfig = errors.New("verify: invalid configuration")

func (v *Verifier) init() {
	v.once.Do(func() {
		v.mxc = &mx.Client{Resolver: v.Resolver, AllowPrivate: v.AllowPrivate, Canary: v.ResolverCanary}
		if v.TranscriptWriter != nil {
			v.tap = &lockedWriter{w: v.TranscriptWriter}
		}
		v.hosts = map[string]*hostState{}
		v.detector.Shared = v.CatchAllStore
		v.defaultDNS = &mx.DNS{}
		v.initEgress()
	})
}

func (v *Verifier) policy() syntax.Policy {
	if v.Syntax != nil {
		return *v.Syntax
	}
	return syntax.Default
}

func (v *Verifier) disposableList() disposable.List {
	if v.Disposable != nil {
		return v.Disposable
	}
	return disposable.Default()
}

func (v *Verifier) freeList() disposable.List {
	if v.Free != nil {
		return v.Free
	}
	return freemail.Default()
}

func (v *Verifier) relayList() disposable.List {
	if v.Relays != nil {
		return v.Relays
	}
	return disposable.Relays()
}

func orDefault[T int | float64 | time.Duration](x, def T) T {
	if x > 0 {
		return x
	}
	return def
}

func (v *Verifier) port() string { return strconv.Itoa(orDefault(v.Port, 25)) }

// Validate reports the first field with an impossible value, as an error
// wrapping ErrConfig: a port out of range, a negative limit, a HELO that is
// not a host name or address literal, a MailFrom that is not an address.
// Verify returns this error; VerifyAll yields every address with it.
func (v *Verifier) Validate() error {
	switch {
	case v.Port < 0 || v.Port > 65535:
		return fmt.Errorf("%w: Port %d out of range", ErrConfig, v.Port)
	case v.Concurrency < 0, v.PerHost < 0, v.PerHostRate < 0, v.MaxRcpts < 0, v.Window < 0:
		return fmt.Errorf("%w: negative limit", ErrConfig)
	case v.Timeout < 0, v.ConnectTimeout < 0, v.CommandTimeout < 0, v.GreylistDelay < 0, v.GreylistMaxWait < 0, v.FeedbackMaxAge < 0, v.ProviderProbeRate < 0:
		return fmt.Errorf("%w: negative duration", ErrConfig)
	case !finite(v.PerHostRate), !finite(v.ProviderProbeRate):
		return fmt.Errorf("%w: a rate that is not a finite number", ErrConfig)
	}
	if v.HELO != "" && !validHELO(v.HELO) {
		return fmt.Errorf("%w: HELO %q is not a host name or an address literal", ErrConfig, v.HELO)
	}
	if _, err := v.mailFrom(); err != nil {
		return err
	}
	return v.validateEgress()
}

// finite reports whether f is a number other than ±Inf.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// heloPolicy judges HELO names: any valid host name, localhost included.
var heloPolicy = syntax.Policy{AllowSingleLabel: true, AllowSpecialUse: true, AllowNumericTLD: true}

// validHELO reports whether h is a host name or an address literal
// ("[192.0.2.1]", "[IPv6:2001:db8::1]", RFC 5321 section 4.1.3).
func validHELO(h string) bool {
	if lit, ok := strings.CutPrefix(h, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		ip, v6 := strings.CutPrefix(lit, "IPv6:")
		a, err := netip.ParseAddr(ip)
		return ok && err == nil && a.Zone() == "" && a.Is6() == v6 && !a.Is4In6()
	}
	_, ascii, err := heloPolicy.ParseDomain(h)
	return err == nil && strings.EqualFold(ascii, h) // ASCII only: EHLO takes no U-labels
}

// mailFrom returns the reverse-path to send, without angle brackets: MailFrom
// as users type it ("me@example.org", "<me@example.org>", "" or "<>" for
// the null sender), checked as an ASCII address.
func (v *Verifier) mailFrom() (string, error) {
	m := strings.TrimSpace(v.MailFrom)
	if inner, ok := strings.CutPrefix(m, "<"); ok {
		if m, ok = strings.CutSuffix(inner, ">"); !ok {
			return "", fmt.Errorf("%w: MailFrom %q has an unclosed angle bracket", ErrConfig, v.MailFrom)
		}
	}
	if m == "" {
		return "", nil
	}
	a, err := syntax.Default.Parse(m)
	if err != nil {
		return "", fmt.Errorf("%w: MailFrom %q: %v", ErrConfig, v.MailFrom, err)
	}
	if a.SMTPUTF8() {
		return "", fmt.Errorf("%w: MailFrom %q needs SMTPUTF8; use an ASCII address", ErrConfig, v.MailFrom)
	}
	return a.ASCII(), nil
}

// batchSize is the pipelining batch: the most RCPTs in one flush, and
// the burst of the per-server rate (see serverLimit).
const batchSize = 10

// Verify verifies one address. Verdicts are data: the error is non-nil
// only when there is no verdict at all, because ctx was already done or
// the Verifier is misconfigured. A verification that runs out of time
// returns unknown/timeout.
func (v *Verifier) Verify(ctx context.Context, address string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{Input: address}, err
	}
	if err := v.Validate(); err != nil {
		return Result{Input: address}, err
	}
	for _, r := range v.VerifyAll(ctx, []string{address}) {
		return r, nil
	}
	return Result{Input: address}, ctx.Err()
}

// VerifyAll verifies many addresses and yields each index of addrs with
// its Result exactly once, in the order the results are ready (not input
// order: addresses decided by syntax or lists come first). It is
// VerifySeq over addrs; see there for how sessions are shared and for
// breaking out of the loop.
func (v *Verifier) VerifyAll(ctx context.Context, addrs []string) iter.Seq2[int, Result] {
	return v.VerifySeq(ctx, slices.Values(addrs))
}

type indexed struct {
	i   int
	res Result
}

// lockedWriter serializes writes from concurrent sessions; smtpprobe
// writes one line per call.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// dialAddr joins an IP address and the port.
func (v *Verifier) dialAddr(ip string) string { return net.JoinHostPort(ip, v.port()) }
