package sshtest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// gateGuard bounds a Gate's wait for a connection: a guard against a
// hang, not a measure.
const gateGuard = 20 * time.Second

// Gate is a listener that accepts connections and never says a word, like
// a host whose sshd is stuck: each connection stays in its handshake
// until the test closes it (Release) or ends. For tests of a bound on
// handshakes in flight, it notes how many were open when each arrived.
type Gate struct {
	Addr string

	mu      sync.Mutex
	conns   []net.Conn
	closed  int           // conns[:closed] have been closed by the test
	openAt  []int         // for each connection, those open when it arrived, itself included
	arrival chan struct{} // signalled (never blocking) at each arrival
}

// StartGate starts a Gate on loopback; it closes with the test.
func StartGate(t testing.TB) *Gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Addr: ln.Addr().String(), arrival: make(chan struct{}, 1)}
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, c := range g.conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			g.conns = append(g.conns, c)
			g.openAt = append(g.openAt, len(g.conns)-g.closed)
			g.mu.Unlock()
			select {
			case g.arrival <- struct{}{}:
			default:
			}
		}
	}()
	return g
}

// Release lets total connections through, turn by turn: it waits for
// per of them to arrive, closes all that have (their handshakes fail),
// and again until total have arrived. A client that keeps its bound
// of per handshakes in flight gets each next one going only as the
// earlier ones fail.
func (g *Gate) Release(per, total int) error {
	for want := 0; want < total; {
		want = min(want+per, total)
		for {
			g.mu.Lock()
			arrived := len(g.conns)
			g.mu.Unlock()
			if arrived >= want {
				break
			}
			select {
			case <-g.arrival:
			case <-time.After(gateGuard):
				return fmt.Errorf("connection %d of %d did not arrive", arrived+1, total)
			}
		}
		g.mu.Lock()
		for _, c := range g.conns[g.closed:] {
			c.Close()
		}
		g.closed = len(g.conns)
		g.mu.Unlock()
	}
	return nil
}

// MaxOpen returns the most connections that were open at once, and how
// many arrived in all.
func (g *Gate) MaxOpen() (most, arrived int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.openAt {
		most = max(most, n)
	}
	return most, len(g.openAt)
}
