package testsmtp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Dials that race Close either get a served connection or net.ErrClosed,
// and Close returns once every goroutine it started has ended. Before the
// closed flag, a dial that added to the WaitGroup while Close waited made
// the race detector or the WaitGroup itself fail ("WaitGroup is reused
// before previous Wait has returned").
func TestDialRacingClose(t *testing.T) {
	for _, latency := range []time.Duration{0, time.Millisecond} {
		for range 300 {
			s := &Server{Latency: latency}
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					c, err := s.DialContext(context.Background(), "tcp", "mx.example:25")
					if err != nil {
						if !errors.Is(err, net.ErrClosed) {
							t.Errorf("dial: %v, want a connection or net.ErrClosed", err)
						}
						return
					}
					c.Close()
				})
			}
			s.Close()
			wg.Wait()
		}
	}
}

func TestDialAfterCloseIsRefused(t *testing.T) {
	for _, latency := range []time.Duration{0, time.Millisecond} {
		s := &Server{Latency: latency}
		c, err := s.DialContext(context.Background(), "tcp", "mx.example:25")
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("banner %q, %v", line, err)
		}
		c.Close()
		s.Close()
		if c, err := s.DialContext(context.Background(), "tcp", "mx.example:25"); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("dial after Close: %v, %v; want net.ErrClosed", c, err)
		}
	}
}
