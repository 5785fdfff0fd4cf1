package transport

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/internal/streamtest"
	"github.com/cport/cport/loop"
)

// maxIdleConnHeap is what an idle, echoed-once server connection may keep
// on the Go heap, by backend: its conn (80 bytes), its protocol, its
// key's slot (64, which on epoll holds the backend's record of its
// receive too), its share of the loop's key table and, on epoll, of the
// backend's fd table (16). Measured at about 165 bytes on io_uring and 196
// on epoll (the race detector adds up to 20 now and then); the bounds
// fail a connection that keeps one more small object (a 48-byte record
// would do), let alone a read buffer or a write chunk (256 bytes and
// more). TestConnStaysSmall guards the conn's own size more closely.
var maxIdleConnHeap = map[string]int64{"uring": 208, "epoll": 240}

// The figure behind the idle-RSS benchmark, measured in-process. The
// clients are raw sockets, which keep nothing on the Go heap, so the
// growth is the server's alone.
func TestIdleConnectionHeapCost(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 connections")
	}
	const n = 2000
	g := startGroup(t, 1, loop.Config{})
	ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
	ap := netip.MustParseAddrPort(ln.Addr().String())
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	echoOnce := func() {
		fd, err := streamtest.RawDial(sa)
		if fd >= 0 {
			fds = append(fds, fd)
		}
		if err != nil {
			t.Fatal(err)
		}
		tv := unix.NsecToTimeval(int64(hangGuard))
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		msg := make([]byte, 64)
		if err := streamtest.RawWriteAll(fd, msg); err != nil {
			t.Fatal(err)
		}
		if err := streamtest.RawReadFull(fd, msg); err != nil {
			t.Fatalf("echo: %v", err)
		}
	}
	echoOnce() // the loop's tables and pools warm
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		echoOnce()
	}
	// Every echo has come back, so every server connection has been
	// served; its last send may still be completing. Settle on a stable
	// heap rather than a sleep's worth.
	prev := ^uint64(0)
	for deadline := time.Now().Add(hangGuard); ; {
		runtime.GC()
		runtime.ReadMemStats(&after)
		if d := int64(after.HeapAlloc) - int64(prev); d < int64(prev)/100 && -d < int64(prev)/100 || time.Now().After(deadline) {
			break
		}
		prev = after.HeapAlloc
		time.Sleep(20 * time.Millisecond)
	}
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("per idle server connection: %d heap bytes, %d allocations", per, (after.Mallocs-before.Mallocs)/n)
	backend := g.Loops()[0].Backend()
	limit, ok := maxIdleConnHeap[backend]
	if !ok {
		t.Fatalf("no heap bound for backend %q", backend)
	}
	if per > limit {
		t.Errorf("an idle server connection keeps %d heap bytes on %s, want at most %d", per, backend, limit)
	}
}
