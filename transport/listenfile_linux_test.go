package transport

import (
	"net"
	"os"
	"testing"

	"github.com/cport/cport/loop"
)

// A listening socket handed over as a file (as systemd passes fd 3) is
// served on every loop of the group; the file stays the caller's.
func TestListenFile(t *testing.T) {
	g := startGroup(t, 2, loop.Config{})
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := nl.(*net.TCPListener).File()
	nl.Close() // f keeps the socket open
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs := make(chan *recorder, 8)
	ln, err := ListenConfig{}.ListenFile(g, f, func() Protocol {
		r := newRecorder()
		recs <- r
		return r
	})
	if err != nil {
		t.Fatal(err)
	}
	if ln.Addr().String() != nl.Addr().String() {
		t.Errorf("Addr() = %v, want the inherited socket's %v", ln.Addr(), nl.Addr())
	}
	loops := map[*loop.Loop]bool{}
	for range 4 {
		c := dialNet(t, "tcp", ln.Addr().String())
		defer c.Close()
		tr := (<-recs).waitMade(t)
		loops[tr.Loop()] = true
	}
	if len(loops) != 2 {
		t.Errorf("connections went to %d of 2 loops", len(loops))
	}
	ln.Close()
	// The caller's file is still a listening socket.
	if _, err := net.FileListener(f); err != nil {
		t.Errorf("the inherited file after Close: %v", err)
	}

	notListening, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer notListening.Close()
	if _, err := (ListenConfig{}).ListenFile(g, notListening, func() Protocol { return newRecorder() }); err == nil {
		t.Error("ListenFile accepted /dev/null")
	}
}
