package flow_test

import (
	"errors"
	"net"
	"testing"

	"github.com/cport/cport/internal/streamtest"
)

// A connection's addresses are the socket's, from either end and from
// any goroutine, and stay right after Close, when the descriptor's number
// may already name another socket; the errors of a closed connection
// carry them.
func TestConnAddresses(t *testing.T) {
	_, ln := flowListener(t)
	l, _ := flowListener(t)
	clients, servers := dialPairs(t, l, ln, 1)
	c, s := clients[0], servers[0]
	check := func(when string) {
		t.Helper()
		if c.LocalAddr() == nil || c.RemoteAddr() == nil || s.LocalAddr() == nil || s.RemoteAddr() == nil {
			t.Fatalf("%s: an address is missing: client %v → %v, server %v ← %v", when, c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
		}
		if c.LocalAddr().String() != s.RemoteAddr().String() || c.RemoteAddr().String() != s.LocalAddr().String() {
			t.Errorf("%s: client %v → %v, server %v ← %v", when, c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
		}
		if c.RemoteAddr().String() != ln.Addr().String() {
			t.Errorf("%s: the client's peer is %v, the listener %v", when, c.RemoteAddr(), ln.Addr())
		}
		if c.LocalAddr().Network() != "tcp" {
			t.Errorf("%s: network %q", when, c.LocalAddr().Network())
		}
	}
	check("open")
	c.Close()
	s.Close()
	// Sockets opened now may take the closed ones' descriptor numbers.
	more, _ := dialPairs(t, l, ln, 2)
	check("closed")
	_, err := c.Write([]byte("x"))
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("a write after Close: %v, want a *net.OpError", err)
	}
	if op.Source == nil || op.Addr == nil || op.Source.String() != c.LocalAddr().String() || op.Addr.String() != c.RemoteAddr().String() {
		t.Errorf("a write after Close: %v, want it from %v to %v", err, c.LocalAddr(), c.RemoteAddr())
	}
	for _, m := range more {
		m.Close()
	}
}

// A peer that resets the connection leaves its address known:
// the handler that logs who went away finds it.
func TestConnAddressesAfterPeerReset(t *testing.T) {
	_, ln := flowListener(t)
	c, want, err := streamtest.AcceptReset(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr(); got == nil || got.String() != want {
		t.Errorf("the peer's address after its reset: %v, want %s", got, want)
	}
	if got := c.LocalAddr(); got == nil || got.String() != ln.Addr().String() {
		t.Errorf("the local address after the peer's reset: %v, want %v", got, ln.Addr())
	}
}
