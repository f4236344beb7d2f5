package verify

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestHeldConnWaitsForTheServer: a heldConn's Close returns once the
// server has closed its end (here 100 ms after it read ours), and no
// later than closeWait from a server that never closes.
func TestHeldConnWaitsForTheServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer l.Close()
	closed := make(chan time.Time, 2)
	hold := make(chan struct{})
	defer close(hold)
	go func() {
		for i := 0; ; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				if i == 0 {
					_, _ = io.Copy(io.Discard, c) // until the client's end
					time.Sleep(100 * time.Millisecond)
				} else {
					<-hold // never closes while the client waits
				}
				closed <- time.Now()
				c.Close()
			}()
		}
	}()
	dial := func() heldConn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return heldConn{c}
	}
	c := dial()
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	done := time.Now()
	select {
	case at := <-closed:
		if done.Before(at) {
			t.Errorf("Close returned %v before the server closed its end", at.Sub(done))
		}
	default:
		t.Error("Close returned before the server closed its end")
	}
	c = dial()
	start := time.Now()
	c.Close()
	if el := time.Since(start); el < closeWait/2 || el > closeWait+time.Second {
		t.Errorf("Close took %v with a server that never closes; want about closeWait (%v)", el, closeWait)
	}
}
