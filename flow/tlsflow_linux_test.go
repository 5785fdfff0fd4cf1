package flow_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/transport"
)

// A TLS server flow whose client has connected and said nothing waits for
// the ClientHello outside crypto/tls: no record buffer allocated, no
// handshake frames on its stack. Its memory, heap and stack together, is
// about 3.2 KB per connection that way and 6 KB waiting inside
// crypto/tls's record reader (with the test binary's 4 KiB initial
// stacks; on Windows goroutine stacks start larger, so the bound is
// Linux's). Memory, not time: asserted.
func TestListenTLSSilentClientCostsLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation deepens every frame")
	}
	const n = 300
	cert := newTestCert(t)
	g := startGroup(t, 1)
	l := g.Loops()[0]
	ln, err := flow.ListenTLS(t.Context(), g, "tcp", "127.0.0.1:0", cert.server())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clients := silentClients(t, ln.Addr().String(), n)
	servers := make([]net.Conn, n)
	for i := range servers {
		if servers[i], err = ln.Accept(); err != nil {
			t.Fatal(err)
		}
	}
	before := heapAndStack()
	fs := make([]*flow.Flow, n)
	for i, c := range servers {
		fs[i] = flow.Go(l, func(*flow.Flow) {
			defer c.Close()
			c.Read(make([]byte, 1))
		})
	}
	// Flows of a loop run in the order they were started: once this one
	// has run, every server flow has parked in its first Read.
	waitFlow(t, flow.Go(l, func(*flow.Flow) {}))
	per := float64(heapAndStack()-before) / n
	t.Logf("heap and stack per server flow waiting for a ClientHello: %.0f B", per)
	if per > 4608 {
		t.Errorf("a server flow waiting for a ClientHello holds %.0f B; want under 4.5 KiB (it waits inside crypto/tls)", per)
	}
	for _, c := range clients {
		c.Close()
	}
	for _, f := range fs {
		waitFlow(t, f)
	}
}

// The same for the callback TLS server (TLSServer): its connection's flow
// waits for the ClientHello before it makes a tls.Conn at all. About
// 4–4.5 KB per connection that way (the test's own net.Conn clients
// included), 8.2 KB waiting inside crypto/tls. Memory, not time: asserted.
func TestTLSServerSilentClientCostsLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation deepens every frame")
	}
	const n = 300
	cert := newTestCert(t)
	g := startGroup(t, 1)
	l := g.Loops()[0]
	served := 0
	ln, err := flow.ServeProtocolTLS(g, "tcp", "127.0.0.1:0", cert.server(), func() transport.Protocol {
		served++
		return &floodProto{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	before := heapAndStack()
	silentClients(t, ln.Addr().String(), n)
	deadline := time.Now().Add(hangGuard)
	for l.Stats().ConnsOpen < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d connections of %d", l.Stats().ConnsOpen, n)
		}
		time.Sleep(time.Millisecond)
	}
	// Flows of a loop run in the order they were started: once this one
	// has run, every connection's flow has parked.
	waitFlow(t, flow.Go(l, func(*flow.Flow) {}))
	per := float64(heapAndStack()-before) / n
	t.Logf("heap and stack per TLSServer connection waiting for a ClientHello: %.0f B", per)
	if per > 6<<10 {
		t.Errorf("a TLSServer connection waiting for a ClientHello holds %.0f B; want under 6 KiB (it waits inside crypto/tls)", per)
	}
	if served != 0 {
		t.Errorf("%d protocols made for connections that never handshook", served)
	}
}

// silentClients dials n connections to addr that send nothing; they close
// when the test ends, if not before.
func silentClients(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	clients := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	return clients
}

// heapAndStack is the memory in use on the heap and in goroutine stacks,
// after a collection.
func heapAndStack() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}
