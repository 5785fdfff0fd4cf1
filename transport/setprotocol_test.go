package transport

import (
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// SetProtocol inside DataReceived hands the connection over: the bytes
// after the switch, the end of stream and the loss go to the new
// protocol, none to the old.
func TestSetProtocolHandsOver(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	next := newRecorder()
	ln, recs := acceptOne(t, g, func(r *recorder) {
		r.onData = func(r *recorder, data []byte) {
			if r.t != nil && next.t == nil {
				next.t = r.t
				r.t.SetProtocol(next)
			}
		}
	})
	c := dialNet(t, "tcp", ln.Addr().String())
	old := <-recs
	old.waitMade(t)
	c.Write([]byte("first"))
	deadline := time.Now().Add(hangGuard)
	for len(old.bytes()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	c.Write([]byte("second"))
	for string(next.bytes()) != "second" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := string(next.bytes()); got != "second" {
		t.Fatalf("the new protocol got %q, want %q", got, "second")
	}
	if got := string(old.bytes()); got != "first" {
		t.Errorf("the old protocol got %q, want only %q", got, "first")
	}
	c.Close()
	next.waitLost(t)
	select {
	case <-old.lost:
		t.Error("the old protocol heard of the loss")
	default:
	}
}
