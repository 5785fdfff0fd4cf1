package transport

import (
	"errors"
	"syscall"
	"testing"

	"github.com/cport/cport/loop"
)

// A port another socket listens on is an error, EADDRINUSE, even with
// SO_REUSEPORT balancing, unless SharePort asks to share it.
func TestListenOnBusyPort(t *testing.T) {
	g := startGroup(t, 2, loop.Config{})
	first := listenEcho(t, g, "tcp", "127.0.0.1:0")
	addr := first.Addr().String()
	for _, b := range []Balance{ReusePort, Handoff} {
		if ln, err := (ListenConfig{Balance: b}).Listen(g, "tcp", addr, func() Protocol { return &echo{} }); err == nil {
			ln.Close()
			t.Errorf("balance %v: a second listener on %s started", b, addr)
		} else if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("balance %v: %v, want EADDRINUSE", b, err)
		}
	}
	shared, err := (ListenConfig{Balance: ReusePort, SharePort: true}).Listen(g, "tcp", addr, func() Protocol { return &echo{} })
	if err != nil {
		t.Fatalf("SharePort: %v", err)
	}
	shared.Close()
}
