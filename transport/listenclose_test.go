package transport

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// A listener closed while its loops shut down lets go of its sockets
// without touching a loop from outside it (the race detector watches),
// and Close returns once they are closed: nothing accepts any more.
func TestListenerCloseDuringLoopClose(t *testing.T) {
	for round := range 20 {
		g, err := loop.NewGroup(2, loop.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return &echo{} })
		if err != nil {
			g.Close()
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); g.Close() }()
		go func() { defer wg.Done(); ln.Close() }()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(hangGuard):
			t.Fatalf("round %d: the group's and the listener's Close did not both return", round)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("round %d: %s still accepts after both closed", round, addr)
		}
	}
}
