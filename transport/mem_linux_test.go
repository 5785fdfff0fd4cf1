package transport

import (
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// What an idle, echoed-once server connection keeps on the Go heap: the
// figure behind the idle-RSS benchmark, measured in-process.
func TestIdleConnectionHeapCost(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 connections")
	}
	const n = 2000
	g := startGroup(t, 1, loop.Config{})
	ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
	warm := dialNet(t, "tcp", ln.Addr().String())
	defer warm.Close()
	echoRoundTrip(warm, make([]byte, 64))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	for i := range conns {
		conns[i] = dialNet(t, "tcp", ln.Addr().String())
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			echoRoundTrip(c, make([]byte, 64))
		}(conns[i])
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("per idle connection, both ends in this process: %d heap bytes, %d allocations",
		(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, (after.Mallocs-before.Mallocs)/n)
	for _, c := range conns {
		c.Close()
	}
}
