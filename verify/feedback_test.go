package verify

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/feedback"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/syntax"
)

// TestFeedbackResolvesCatchAll: bounces and deliveries on record decide
// what a catch-all server cannot; a fresh definite answer still stands.
func TestFeedbackResolvesCatchAll(t *testing.T) {
	w := newWorld()
	defer w.router.close()
	w.add("catchall.example", &testsmtp.Server{}) // accepts everyone
	w.add("example.com", testsmtp.Mailboxes("jane@example.com"))
	h := &feedback.Memory{}
	now := time.Now()
	// The round trip from a real bounce file: parse, record, verify.
	f, err := os.Open("../feedback/testdata/postfix.eml") // gone@catchall.example, 5.1.1
	if err != nil {
		t.Fatal(err)
	}
	evs, err := feedback.ParseDSN(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		e.At = now.Add(-time.Hour) // the sample's date, made recent
		_ = h.Record(e)
	}
	_ = h.Record(feedback.Event{Address: "jane@catchall.example", Kind: feedback.Delivered, At: now.Add(-48 * time.Hour), Source: "esp"})
	_ = h.Record(feedback.Event{Address: "old@catchall.example", Kind: feedback.Delivered, At: now.Add(-400 * 24 * time.Hour), Source: "esp"})
	_ = h.Record(feedback.Event{Address: "soft@catchall.example", Kind: feedback.SoftBounce, At: now, Source: "esp"})
	_ = h.Record(feedback.Event{Address: "jane@example.com", Kind: feedback.HardBounce, Status: "5.1.1", At: now, Source: "esp"})
	// Hard bounces that are not about the mailbox: policy, spam, expiry.
	_ = h.Record(feedback.Event{Address: "spam@catchall.example", Kind: feedback.HardBounce, Status: "5.7.1",
		Reply: "smtp; 550 5.7.1 Message rejected as spam by Content Filtering", At: now, Source: "dsn"})
	_ = h.Record(feedback.Event{Address: "expired@catchall.example", Kind: feedback.HardBounce, Status: "5.4.7", At: now, Source: "dsn"})
	_ = h.Record(feedback.Event{Address: "policy@catchall.example", Kind: feedback.HardBounce, Reply: "550 Message refused", At: now, Source: "esp"})
	// ... and ones that are, named by the reply or by the status alone.
	_ = h.Record(feedback.Event{Address: "disabled@catchall.example", Kind: feedback.HardBounce, Status: "5.2.1",
		Reply: "smtp; 550-5.2.1 The email account that you tried to reach is disabled.", At: now, Source: "dsn"})
	_ = h.Record(feedback.Event{Address: "unknown@catchall.example", Kind: feedback.HardBounce,
		Reply: "550 Recipient address rejected: User unknown in virtual mailbox table", At: now, Source: "esp"})
	v := w.verifier()
	v.History = h
	pol := syntax.Default
	pol.AllowSpecialUse = true // the samples' domains are .example
	v.Syntax = &pol
	for _, tc := range []struct {
		addr     string
		status   Status
		reason   Reason
		evidence bool
	}{
		{"gone@catchall.example", Undeliverable, ReasonMailboxNotFound, true},
		{"jane@catchall.example", Deliverable, ReasonDeliveredBefore, true},
		{"old@catchall.example", Risky, ReasonCatchAll, false},  // too old
		{"soft@catchall.example", Risky, ReasonCatchAll, false}, // a soft bounce says nothing
		{"other@catchall.example", Risky, ReasonCatchAll, false},
		{"jane@example.com", Deliverable, ReasonAccepted, true}, // the server just said yes
		{"spam@catchall.example", Risky, ReasonCatchAll, true},
		{"expired@catchall.example", Risky, ReasonCatchAll, true},
		{"policy@catchall.example", Risky, ReasonCatchAll, true},
		{"disabled@catchall.example", Undeliverable, ReasonMailboxDisabled, true},
		{"unknown@catchall.example", Undeliverable, ReasonMailboxNotFound, true},
	} {
		r, err := v.Verify(context.Background(), tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.status || r.Reason != tc.reason || (r.Feedback != nil) != tc.evidence {
			t.Errorf("%s: %s/%s feedback %+v; want %s/%s with evidence %v", tc.addr, r.Status, r.Reason, r.Feedback, tc.status, tc.reason, tc.evidence)
		}
	}
	r, _ := v.Verify(context.Background(), "gone@catchall.example")
	if r.Feedback == nil || r.Feedback.Status != "5.1.1" || r.Feedback.Source != "dsn" || r.Feedback.Kind != "hard_bounce" {
		t.Errorf("bounce evidence %+v", r.Feedback)
	}
}

type fakeProbe struct {
	mu    sync.Mutex
	calls int
	ans   map[string]ProbeResult
}

func (p *fakeProbe) Probe(_ context.Context, addr, _ string) (ProbeAnswer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	return ProbeAnswer{Exists: p.ans[addr], Method: "test directory"}, nil
}

func TestProviderProbe(t *testing.T) {
	w := newWorld()
	defer w.router.close()
	w.add("catchall.com", &testsmtp.Server{})
	w.add("example.com", testsmtp.Mailboxes("jane@example.com"))
	p := &fakeProbe{ans: map[string]ProbeResult{"yes@catchall.com": Positive, "no@catchall.com": Negative}}
	v := w.verifier()
	v.ProviderProbe, v.ProviderProbeRate = p, 1000
	for addr, want := range map[string]Reason{"yes@catchall.com": ReasonProviderConfirmed, "no@catchall.com": ReasonMailboxNotFound,
		"maybe@catchall.com": ReasonCatchAll, "jane@example.com": ReasonAccepted} {
		r, _ := v.Verify(context.Background(), addr)
		if r.Reason != want || (want == ReasonProviderConfirmed || want == ReasonMailboxNotFound) != (r.ProviderProbe != nil) {
			t.Errorf("%s: %s/%s probe %+v; want %s", addr, r.Status, r.Reason, r.ProviderProbe, want)
		}
	}
	if p.calls != 3 {
		t.Errorf("the probe was asked %d times; want 3 (never about a settled address)", p.calls)
	}
}

// blockingHistory holds a's lookup until released.
type blockingHistory struct {
	feedback.Memory
	a       string
	release chan struct{}
}

func (h *blockingHistory) Lookup(addr string) (feedback.Event, bool, error) {
	if addr == h.a {
		select {
		case <-h.release:
		case <-time.After(2 * time.Second):
		}
	}
	return h.Memory.Lookup(addr)
}

// TestHistoryLookupHoldsNoLock: a slow History (the service's is a
// network store) holds back only the address it is asked about, not the
// engine: another domain's result comes out meanwhile.
func TestHistoryLookupHoldsNoLock(t *testing.T) {
	w := newWorld()
	defer w.router.close()
	w.add("company1.com", testsmtp.Mailboxes("jane@company1.com"))
	w.add("company2.com", testsmtp.Mailboxes("jane@company2.com"))
	h := &blockingHistory{a: "jane@company1.com", release: make(chan struct{})}
	v := w.verifier()
	v.History = h
	var order []string
	for _, r := range v.VerifyAll(t.Context(), []string{"jane@company1.com", "jane@company2.com"}) {
		order = append(order, r.Address)
		if r.Address == "jane@company2.com" {
			close(h.release)
		}
	}
	if len(order) != 2 || order[0] != "jane@company2.com" {
		t.Errorf("results in order %v: the lookup for jane@company1.com held back jane@company2.com", order)
	}
}

// TestFeedbackBeforeSMTP: the History also speaks for addresses decided
// without a probe: Yahoo's (which accepts every RCPT) and SkipSMTP's.
func TestFeedbackBeforeSMTP(t *testing.T) {
	w := standardWorld()
	defer w.router.close()
	h := &feedback.Memory{}
	now := time.Now()
	_ = h.Record(feedback.Event{Address: "gone@yahoo.com", Kind: feedback.HardBounce, Status: "5.1.1", At: now, Source: "esp"})
	_ = h.Record(feedback.Event{Address: "jane@yahoo.com", Kind: feedback.Delivered, At: now, Source: "esp"})
	_ = h.Record(feedback.Event{Address: "gone@example.com", Kind: feedback.HardBounce, Status: "5.1.1", At: now, Source: "esp"})
	v := w.verifier()
	v.History = h
	got := verifyAll(t, v, []string{"gone@yahoo.com", "jane@yahoo.com", "other@yahoo.com"})
	for addr, want := range map[string]Reason{"gone@yahoo.com": ReasonMailboxNotFound, "jane@yahoo.com": ReasonDeliveredBefore, "other@yahoo.com": ReasonCannotVerify} {
		if got[addr].Reason != want {
			t.Errorf("%s: %v/%v, want %v", addr, got[addr].Status, got[addr].Reason, want)
		}
	}
	v.SkipSMTP = true
	if r := verifyAll(t, v, []string{"gone@example.com"})["gone@example.com"]; r.Status != Undeliverable || r.Feedback == nil {
		t.Errorf("SkipSMTP: %v/%v feedback %+v, want undeliverable with the bounce", r.Status, r.Reason, r.Feedback)
	}
	v.SkipSMTP, v.Offline = false, true
	if r := verifyAll(t, v, []string{"gone@example.com"})["gone@example.com"]; r.Reason != ReasonSMTPNotChecked || r.Feedback != nil {
		t.Errorf("Offline: %v/%v feedback %+v; the History is not asked offline", r.Status, r.Reason, r.Feedback)
	}
}

// Issue 22, defect 3: fresh evidence about the mailbox from the server
// outranks an old bounce, and an event dated in the future is no
// evidence at all.
func TestFreshEvidenceOutranksHistory(t *testing.T) {
	w := newWorld()
	defer w.router.close()
	w.add("full.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		switch rcptAddress(cmd.Arg) {
		case "jane@full.com":
			return testsmtp.R(552, "5.2.2", "Mailbox full")
		case "postmaster@full.com": // RFC 5321, 4.5.1
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return testsmtp.R(550, "5.1.1", "User unknown")
	}}})
	w.add("catchall.com", &testsmtp.Server{}) // accepts everyone
	h := &feedback.Memory{}
	now := time.Now()
	_ = h.Record(feedback.Event{Address: "jane@full.com", Kind: feedback.HardBounce, Status: "5.1.1", At: now.Add(-60 * 24 * time.Hour), Source: "esp"})
	// Written by another clock, a year ahead.
	future := feedback.Event{Address: "bob@catchall.com", Kind: feedback.HardBounce, Status: "5.1.1", At: now.Add(365 * 24 * time.Hour), Source: "esp"}
	v := w.verifier()
	v.History = staticHistory{future}
	got := verifyAll(t, v, []string{"jane@full.com", "bob@catchall.com"})
	if r := got["jane@full.com"]; r.Status != Risky || r.Reason != ReasonMailboxFull {
		t.Errorf("jane@full.com: %v/%v, want risky/mailbox_full (the server's reply now)", r.Status, r.Reason)
	}
	if r := got["bob@catchall.com"]; r.Status != Risky || r.Reason != ReasonCatchAll || r.Feedback != nil {
		t.Errorf("bob@catchall.com: %v/%v feedback %+v, want risky/catch_all without the future-dated bounce", r.Status, r.Reason, r.Feedback)
	}
	v.History = h
	if r, _ := v.Verify(t.Context(), "jane@full.com"); r.Status != Risky || r.Reason != ReasonMailboxFull {
		t.Errorf("with the bounce on record: %v/%v, want risky/mailbox_full", r.Status, r.Reason)
	}
	// A future-dated event is stored as of when it was recorded, so it
	// does not hide the ones that happen after.
	_ = h.Record(future)
	_ = h.Record(feedback.Event{Address: "bob@catchall.com", Kind: feedback.Delivered, At: time.Now(), Source: "esp"})
	if e, _, _ := h.Lookup("bob@catchall.com"); e.Kind != feedback.Delivered {
		t.Errorf("latest event %v, want the delivery recorded after the future-dated bounce", e.Kind)
	}
}

// staticHistory answers every lookup with the event of its address, and
// records nothing: a store written by another clock.
type staticHistory []feedback.Event

func (h staticHistory) Record(feedback.Event) error { return nil }
func (h staticHistory) Lookup(a string) (feedback.Event, bool, error) {
	for _, e := range h {
		if e.Address == a {
			return e, true, nil
		}
	}
	return feedback.Event{}, false, nil
}
