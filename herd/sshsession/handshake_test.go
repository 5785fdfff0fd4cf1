package sshsession

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/internal/sshtest"
	"github.com/cport/cport/loop"
)

// TestMaxHandshakes: with MaxHandshakes 2, a fan-out of 4 opens no third
// connection while two are still in their handshake; the others start as
// those end.
func TestMaxHandshakes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The server accepts and never answers: each connection stays in its
	// handshake until the test closes it. For each, it notes how many
	// the test had closed when it arrived.
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed int
		seen   []int
	)
	accepted := make(chan struct{}, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			seen = append(seen, closed)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns[closed:] {
			closed++
			c.Close()
		}
	}
	waitAccepted := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			select {
			case <-accepted:
			case <-time.After(20 * time.Second): // a guard against a hang, not a measure
				t.Fatalf("connection %d of %d did not arrive", i+1, n)
			}
		}
	}

	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	key := sshtest.NewKey(t)
	hk, err := KnownHosts(false, sshtest.KnownHosts(t, key.PublicKey(), ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Loop: l, Workers: 8, User: "alice", HostKey: hk, MaxHandshakes: 2})
	if err != nil {
		t.Fatal(err)
	}
	// No host may time out here: each stalls until the test closes it.
	r := runner.New(c, nil, runner.Config{Fanout: 4, ConnectTimeout: 30 * time.Second})
	addr := ln.Addr().String()
	hosts := []string{"a@" + addr, "b@" + addr, "c@" + addr, "d@" + addr}
	done := make(chan []runner.Result, 1)
	go func() {
		results, err := r.Run(l, hosts, "true")
		if err != nil {
			t.Error(err)
		}
		done <- results
	}()

	waitAccepted(2)
	closeAll() // the first two fail: their turns pass to the others
	waitAccepted(2)
	closeAll()
	select {
	case results := <-done:
		for _, res := range results {
			if res.Class != runner.Unreachable {
				t.Errorf("%s: %v (%v), want unreachable (connection closed in the handshake)", res.Host, res.Class, res.Err)
			}
		}
	case <-time.After(20 * time.Second): // a guard against a hang, not a measure
		t.Fatal("the run did not end")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 {
		t.Fatalf("%d connections, want 4", len(seen))
	}
	for i, n := range seen[2:] {
		if n == 0 {
			t.Errorf("connection %d arrived while the first two were still in their handshake", i+3)
		}
	}
}
