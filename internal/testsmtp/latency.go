package testsmtp

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Latency, when set, makes DialContext put a simulated network between
// client and server: every byte arrives Latency/2 after it was written, in
// each direction, so one round trip costs Latency while pipelined writes
// travel together. It works with real time and inside a synctest bubble.
func (s *Server) dialWithLatency(rtt time.Duration) (net.Conn, error) {
	client, near := net.Pipe()
	far, server := net.Pipe()
	done := s.base()
	oneWay := rtt / 2
	ok := s.spawn(func() {
		var wg sync.WaitGroup
		wg.Go(func() { s.serveConn(server, done) })
		wg.Go(func() { forward(near, far, oneWay, &s.flushes) })
		wg.Go(func() { forward(far, near, oneWay, nil) })
		wg.Wait()
	})
	if !ok {
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	}
	return client, nil
}

// forward copies from src to dst, delivering each chunk delay after it was
// read, without holding up later chunks.
// Each chunk read from src counts one in chunks when it is not nil: from
// the client, a chunk is one flush, so the count is the round trips the
// client started.
func forward(src, dst net.Conn, delay time.Duration, chunks *atomic.Int64) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range ch {
			if d := time.Until(c.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.b); err != nil {
				for range ch {
				}
				return
			}
		}
		dst.Close()
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if chunks != nil {
				chunks.Add(1)
			}
			ch <- chunk{append([]byte(nil), buf[:n]...), time.Now().Add(delay)}
		}
		if err != nil {
			break
		}
	}
	close(ch)
	<-done
	src.Close()
	dst.Close()
}

// Flushes returns how many separate writes clients have sent through the
// simulated network (Latency > 0): each is a round trip the client waited
// on, except a final QUIT.
func (s *Server) Flushes() int { return int(s.flushes.Load()) }
