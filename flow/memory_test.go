package flow_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// memInUse is the heap and stack memory in use after a full collection.
func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// What an idle flow.Conn and a flow parked in Read on it may cost, heap
// and stack. They measure about 750 B and 3.2 KiB on Linux (a coroutine's
// stack, its g, the flow), 1 KiB and 8–9.5 KiB on Windows, where every
// goroutine stack starts 4 KiB larger for the system's use; the bounds
// leave room for noise and catch what matters: a read buffer kept per
// idle connection (16 KiB), or a stack that grew before parking (another
// 8 KiB and more).
const maxIdleFlowConn = 2 << 10

func maxParkedFlow() float64 {
	if runtime.GOOS == "windows" {
		return 16 << 10
	}
	return 6 << 10
}

// TestParkedFlowMemory measures what an idle connection costs, and what a
// flow parked in Read on it adds: N connections are made (both ends are
// flow.Conns, so a pair costs two), then N flows park in Read on the
// client ends.
//
//	go test -run ParkedFlowMemory -v ./flow
func TestParkedFlowMemory(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	l, ln := flowListener(t)
	before := memInUse()
	clients, servers := dialPairs(t, l, ln, n)
	conns := memInUse()
	parked := make(chan struct{}, n)
	fs := make([]*flow.Flow, n)
	for i := range n {
		fs[i] = flow.Go(l, func(f *flow.Flow) {
			parked <- struct{}{}
			clients[i].Read(make([]byte, 1))
		})
	}
	for range n {
		within(t, parked, "a flow's start")
	}
	time.Sleep(10 * time.Millisecond) // let the last flows park
	flows := memInUse()
	perConn := float64(conns-before) / float64(2*n)
	perFlow := float64(flows-conns) / float64(n)
	t.Logf("%d idle connections: %.0f B each (transport conn + flow.Conn); a flow parked in Read adds %.0f B; total per parked flow with its connection %.0f B",
		n, perConn, perFlow, perConn+perFlow)
	if perConn > maxIdleFlowConn {
		t.Errorf("an idle flow.Conn costs %.0f B, want at most %d", perConn, maxIdleFlowConn)
	}
	if perFlow > maxParkedFlow() {
		t.Errorf("a flow parked in Read costs %.0f B, want at most %.0f", perFlow, maxParkedFlow())
	}
	for _, c := range clients {
		c.Close()
	}
	for _, f := range fs {
		waitFlow(t, f)
	}
	runtime.KeepAlive(servers)
}

// stackInUse is the goroutine stack memory in use.
func stackInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}

// A flow that has read and written keeps the stack it parked with before
// any data (the platform's smallest: 2 KiB on Linux): its writes are
// queued and sent from the loop's own stack (transport.WriteBeforePoll),
// since a send started on the flow's stack would double it for good, the
// runtime never shrinking a stack in use above a quarter. Memory, not
// time: asserted.
func TestEchoFlowStackStaysSmall(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation deepens every frame")
	}
	const n = 500
	l, ln := flowListener(t)
	clients, servers := dialPairs(t, l, ln, n)
	runtime.GC()
	before := stackInUse()
	parked := make(chan struct{}, n)
	fs := make([]*flow.Flow, n)
	for i := range n {
		fs[i] = flow.Go(l, func(f *flow.Flow) {
			parked <- struct{}{}
			echoWithNext(servers[i])
		})
	}
	for range n {
		within(t, parked, "a flow's start")
	}
	time.Sleep(10 * time.Millisecond) // let the last flows park
	runtime.GC()
	idle := float64(stackInUse()-before) / n
	reply := make([]byte, 5)
	for _, c := range clients {
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	echoed := float64(stackInUse()-before) / n
	t.Logf("stack per parked echo flow: %.0f B before any data, %.0f B after an echo", idle, echoed)
	if echoed > idle*5/4 {
		t.Errorf("an echo grew a parked flow's stack from %.0f B to %.0f B", idle, echoed)
	}
	for _, c := range clients {
		c.Close()
	}
	for _, f := range fs {
		waitFlow(t, f)
	}
}

// flowListener listens with flow.Listen on a one-loop group; the
// listener closes when the test ends.
func flowListener(t *testing.T) (*loop.Loop, *flow.Listener) {
	t.Helper()
	g := startGroup(t, 1)
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return g.Loops()[0], ln
}

// echoWithNext echoes c with Next until it fails: the echo flow whose
// memory these tests weigh.
func echoWithNext(c *flow.Conn) {
	for {
		b, err := c.Next()
		if err != nil {
			return
		}
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

// dialPairs opens n connections to ln from l: the client ends and the
// server ends, the caller's to close.
func dialPairs(t *testing.T, l *loop.Loop, ln *flow.Listener, n int) (clients, servers []*flow.Conn) {
	t.Helper()
	clients, servers = make([]*flow.Conn, n), make([]*flow.Conn, n)
	for i := range n {
		c, err := flow.Dial(context.Background(), l, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		clients[i], servers[i] = c, s.(*flow.Conn)
	}
	return clients, servers
}

// In a burst every connection of a loop may hold a message at once before
// any reader takes it: what each holds is a buffer fitted to a small
// message, not a 4 KiB one (9,000 such connections took 36 MB that the
// heap then kept). Here every connection holds its 64 bytes at once, as
// Next lends them until the next read. Allocated bytes, not time:
// asserted.
func TestBurstHoldsSmallBuffers(t *testing.T) {
	const n = 300
	_, ln := flowListener(t)
	clients := make([]net.Conn, n)
	servers := make([]*flow.Conn, n)
	for i := range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		clients[i], servers[i] = c, s.(*flow.Conn)
	}
	msg := bytes.Repeat([]byte("m"), 64)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range clients {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	held := make([][]byte, n)
	for i, s := range servers {
		s.SetReadDeadline(time.Now().Add(hangGuard))
		b, err := s.Next()
		if err != nil || len(b) != len(msg) {
			t.Fatalf("server %d: Next = %d bytes, %v", i, len(b), err)
		}
		held[i] = b
	}
	runtime.ReadMemStats(&after)
	per := float64(after.TotalAlloc-before.TotalAlloc) / n
	t.Logf("allocated per connection holding a 64-byte message: %.0f B", per)
	if per > 2560 {
		t.Errorf("each connection holding a 64-byte message took %.0f B; want under 2.5 KiB (a 4 KiB buffer each)", per)
	}
	runtime.KeepAlive(held)
}
