package flow_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cport/cport/flow"
)

// A burst of connects larger than the listener's queue (1,024) before
// anyone calls Accept: every client is served once Accept runs, none is
// refused. The queue's overflow waits in the kernel's backlog.
func TestAcceptBurstBeyondQueue(t *testing.T) {
	g := startGroup(t, 2)
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 1500
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), hangGuard)
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	for i := range n {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
	for i, c := range clients {
		// Each client's own bound, from here: dialling and accepting
		// 1,500 may take longer than one under Wine on a busy machine.
		c.SetDeadline(time.Now().Add(hangGuard))
		if _, err := c.Write([]byte("hi")); err != nil {
			t.Fatalf("client %d: write: %v", i, err)
		}
		var b [2]byte
		if _, err := io.ReadFull(c, b[:]); err != nil || string(b[:]) != "hi" {
			t.Fatalf("client %d: echo %q, %v (refused while queued?)", i, b, err)
		}
	}
}
