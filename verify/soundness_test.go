package verify

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The soundness property: in a random world whose generator knows which
// mailboxes exist, no address that does not exist is ever deliverable, no
// address that exists is ever undeliverable, every address gets exactly
// one result within the budget, and no goroutine is left behind (synctest
// fails the bubble otherwise). Unknown is always allowed. Servers in the
// world are honest about mailboxes whenever they answer about one; they
// may be slow, limited, greylisting, catch-all, broken or hostile in every
// other way, and may change their answers with the conversation (caps,
// harvest protection, soft limits; see soundness_world_test.go); a generic
// 5xx caused by a limit is not an answer about a mailbox. A second phase
// verifies one address alone, with Verify, and checks Verifier.Timeout:
// its result comes within Timeout + 100 ms when DNS answers (the world's
// DNS takes no time and nothing queues). Goroutines are checked after each
// phase, not only when the bubble ends.

var (
	soundnessWorlds = flag.Int("soundness.worlds", 0, "worlds for TestSoundness (0: 500, or 200 with -short)")
	soundnessSeed   = flag.Int64("soundness.seed", -1, "run TestSoundness on this seed only")
	soundnessAll    = flag.Bool("soundness.all", false, "TestSoundness: go on after a world with violations")
)

// runConfig is how a world's Verifier is set up.
type runConfig struct {
	GreylistDelay time.Duration
	MaxRcpts      int
	SkipCatchAll  bool
	Concurrency   int
	PerHost       int
	Transcript    bool
	Window        int
	Timeout       time.Duration
}

func genConfig(rng *rand.Rand) runConfig {
	return runConfig{
		GreylistDelay: []time.Duration{0, 10 * time.Second, time.Minute}[rng.IntN(3)],
		MaxRcpts:      []int{0, 3, 5}[rng.IntN(3)],
		SkipCatchAll:  rng.IntN(6) == 0,
		Concurrency:   []int{0, 1, 3}[rng.IntN(3)],
		PerHost:       []int{0, 1, 4}[rng.IntN(3)],
		Transcript:    rng.IntN(4) == 0,
		Window:        []int{0, 2, 7}[rng.IntN(3)],
		Timeout:       []time.Duration{0, 3 * time.Second, 10 * time.Second}[rng.IntN(3)],
	}
}

// verifier returns a new Verifier for the world, set up as c says.
func (c runConfig) verifier(sw *soundWorld) *Verifier {
	v := sw.verifier()
	v.Resolver = sw.resolver()
	v.GreylistMaxWait = 0
	v.GreylistDelay, v.MaxRcpts, v.SkipCatchAll = c.GreylistDelay, c.MaxRcpts, c.SkipCatchAll
	paced(v)
	v.Concurrency, v.PerHost, v.Transcript, v.Window = c.Concurrency, c.PerHost, c.Transcript, c.Window
	v.Timeout = c.Timeout
	return v
}

// verdicts tallies the definite verdicts TestSoundness gave (the VerifyAll
// phase's), for what a change of the evidence rules costs: it logs them.
var verdicts struct {
	sync.Mutex
	deliverable, undeliverable, addrs int
}

// checkResult reports a result that breaks the oracle.
func (sw *soundWorld) checkResult(t *testing.T, seed uint64, c runConfig, phase, a string, r Result) {
	t.Helper()
	if phase == "VerifyAll" {
		verdicts.Lock()
		verdicts.addrs++
		verdicts.deliverable += boolInt(r.Status == Deliverable)
		verdicts.undeliverable += boolInt(r.Status == Undeliverable)
		verdicts.Unlock()
	}
	switch {
	case !sw.exists[a] && r.Status == Deliverable:
		t.Errorf("seed %d (%s): %s does not exist but is deliverable/%s (%+v, catch_all %v)\nworld: %s\nconfig: %+v", seed, phase, a, r.Reason, r.SMTP, r.CatchAll, strings.Join(sw.desc, "; "), c)
	case sw.exists[a] && r.Status == Undeliverable:
		t.Errorf("seed %d (%s): %s exists but is undeliverable/%s (%+v)\nworld: %s\nconfig: %+v", seed, phase, a, r.Reason, r.SMTP, strings.Join(sw.desc, "; "), c)
	}
}

// checkWorld runs one world and reports every violation of the property.
// Phase one verifies every address of the world with VerifyAll; phase two
// verifies one of them again with Verify and a new Verifier, against the
// servers as phase one left them.
func checkWorld(t *testing.T, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		sw := genWorld(seed)
		defer sw.router.close()
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := genConfig(rng)
		v := cfg.verifier(sw)
		ctx, cancel := context.WithTimeout(t.Context(), sw.budget)
		defer cancel()
		start := time.Now()
		seen := map[int]bool{}
		for i, r := range v.VerifyAll(ctx, sw.addrs) {
			a := sw.addrs[i]
			if seen[i] {
				t.Errorf("seed %d: %s has a second result", seed, a)
			}
			seen[i] = true
			sw.checkResult(t, seed, cfg, "VerifyAll", a, r)
		}
		if len(seen) != len(sw.addrs) {
			t.Errorf("seed %d: %d results for %d addresses", seed, len(seen), len(sw.addrs))
		}
		if d := time.Since(start); d > sw.budget+100*time.Millisecond {
			t.Errorf("seed %d: took %v on a %v budget\nworld: %s\nconfig: %+v", seed, d, sw.budget, strings.Join(sw.desc, "; "), cfg)
		}
		sw.checkLeftovers(t, seed, cfg, "VerifyAll")

		// Phase two: one address, alone. Timeout counts from its first
		// SMTP attempt, which comes at once when DNS answers (the world's
		// DNS takes no time and a new Verifier has no queue).
		a := sw.addrs[rng.IntN(len(sw.addrs))]
		limit := sw.budget
		if cfg.Timeout > 0 && !sw.dnsHangs(a) {
			limit = min(limit, cfg.Timeout)
		}
		ctx2, cancel2 := context.WithTimeout(t.Context(), sw.budget)
		defer cancel2()
		start = time.Now()
		r, err := cfg.verifier(sw).Verify(ctx2, a)
		d := time.Since(start)
		if err != nil {
			t.Errorf("seed %d (Verify): %s: error %v", seed, a, err)
		} else {
			sw.checkResult(t, seed, cfg, "Verify", a, r)
		}
		if d > limit+100*time.Millisecond {
			t.Errorf("seed %d (Verify): %s took %v, limit %v (Timeout %v, budget %v), %s/%s\nworld: %s\nconfig: %+v",
				seed, a, d, limit, cfg.Timeout, sw.budget, r.Status, r.Reason, strings.Join(sw.desc, "; "), cfg)
		}
		sw.checkLeftovers(t, seed, cfg, "Verify")
	})
}

// checkLeftovers reports the goroutines of the bubble, other than the
// caller and the world's servers and simulated network, that outlive the
// call that started them; synctest only fails the bubble for them once
// its function has returned, and then without saying which world. It then
// lets them drain (they may be bounded by their own timers), so that the
// next phase starts clean.
func (sw *soundWorld) checkLeftovers(t *testing.T, seed uint64, c runConfig, phase string) {
	t.Helper()
	synctest.Wait()
	left := bubbleGoroutines()
	if len(left) == 0 {
		return
	}
	t.Errorf("seed %d (%s): %d goroutines left when it returned:\n%s\nworld: %s\nconfig: %+v", seed, phase, len(left), strings.Join(left, "\n"), strings.Join(sw.desc, "; "), c)
	time.Sleep(time.Minute)
	synctest.Wait()
}

// bubbleGoroutines returns a summary (state, function, creator) of each
// goroutine of the synctest bubble other than the caller, leaving out
// those testsmtp started. Tests run one bubble at a time here.
func bubbleGoroutines() []string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(strings.TrimSpace(g), "\n")
		if i == 0 || !strings.Contains(lines[0], "synctest bubble") {
			continue // the caller comes first
		}
		var fns []string
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "\t") {
				fn, _, _ := strings.Cut(strings.TrimPrefix(l, "created by "), "(0x")
				fns = append(fns, fn)
			}
		}
		all := strings.Join(fns, " < ")
		if strings.Contains(g, "\ntesting/synctest.") ||
			strings.Contains(all, "internal/testsmtp.") && !strings.Contains(all, "mailverify/verify.") && !strings.Contains(all, "mailverify/smtpprobe.") {
			continue // synctest's own; the world's servers and network
		}
		_, state, _ := strings.Cut(lines[0], "[")
		out = append(out, "  ["+state+" "+all)
	}
	return out
}

func TestSoundness(t *testing.T) {
	if *soundnessSeed >= 0 {
		checkWorld(t, uint64(*soundnessSeed))
		return
	}
	n := *soundnessWorlds
	if n == 0 {
		n = 500
		if testing.Short() {
			n = 200
		}
	}
	var failed []uint64
	for seed := range uint64(n) {
		if !t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { checkWorld(t, seed) }) {
			failed = append(failed, seed)
			if !*soundnessAll {
				break
			}
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d worlds with violations: seeds %v", len(failed), failed)
	}
	verdicts.Lock()
	defer verdicts.Unlock()
	t.Logf("%d worlds, %d addresses: %d deliverable, %d undeliverable", n, verdicts.addrs, verdicts.deliverable, verdicts.undeliverable)
}

func FuzzSoundness(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkWorld(t, seed) })
}
