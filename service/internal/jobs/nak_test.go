package jobs

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

type nakMsg struct {
	jetstream.Msg // nil: only the methods below are called
	delivered     uint64
	delay         time.Duration
}

func (m *nakMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: m.delivered}, nil
}

func (m *nakMsg) NakWithDelay(d time.Duration) error { m.delay = d; return nil }

// TestNakLaterBacksOff: a task whose result could not be stored comes
// back later and later, so that MaxDeliver (10) deliveries last through a
// stream's leader election (seconds), not milliseconds.
func TestNakLaterBacksOff(t *testing.T) {
	var total time.Duration
	prev := time.Duration(0)
	for n := uint64(1); n < 10; n++ {
		m := &nakMsg{delivered: n}
		nakLater(m)
		if m.delay < prev || m.delay > 10*time.Second || m.delay < 250*time.Millisecond {
			t.Fatalf("delivery %d: delay %v after %v; want growing, within [250ms, 10s]", n, m.delay, prev)
		}
		prev = m.delay
		total += m.delay
	}
	if total < 30*time.Second {
		t.Errorf("nine send-backs wait %v in all; want at least 30s, longer than an election", total)
	}
}
