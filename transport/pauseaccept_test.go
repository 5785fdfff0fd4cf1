package transport

import (
	"net"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// PauseAccepting leaves new clients in the kernel's backlog: a client
// that connects while accepts are paused gets no protocol until
// ResumeAccepting, and then gets one.
func TestPauseAccepting(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	ln, recs := acceptOne(t, g, nil)
	first := dialNet(t, "tcp", ln.Addr().String())
	defer first.Close()
	r := <-recs
	r.waitMade(t)

	ln.PauseAccepting()
	// A round trip through the loop after the pause: it has taken effect.
	done := make(chan struct{})
	g.Loops()[0].Post(func() { close(done) })
	<-done
	second, err := net.DialTimeout("tcp", ln.Addr().String(), hangGuard)
	if err != nil {
		t.Fatalf("connect while paused: %v (the kernel's backlog should take it)", err)
	}
	defer second.Close()
	// The loop has had the chance to accept it: a write from the first
	// client is delivered after the second client's handshake completed.
	first.Write([]byte("ping"))
	deadline := time.Now().Add(hangGuard)
	for string(r.bytes()) != "ping" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-recs:
		t.Fatal("a connection was accepted while accepts were paused")
	default:
	}
	ln.ResumeAccepting()
	select {
	case r2 := <-recs:
		r2.waitMade(t)
	case <-time.After(hangGuard):
		t.Fatal("the waiting client was not accepted after ResumeAccepting")
	}
}
