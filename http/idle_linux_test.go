package http_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/streamtest"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// maxIdleHeap bounds what an idle keep-alive connection may keep on the
// server's heap. It measures about 320 bytes on io_uring (a 96-byte
// connection, its transport, key slot and callback-map entry) and 510 on
// epoll (whose fd table grows by doubling); the bound leaves
// room for noise and catches what matters: a read or write buffer (4 KiB)
// kept per idle connection. The goroutine count catches a flow kept per
// connection, whose stack is not heap.
const maxIdleHeap = 1024

// TestIdleConnectionHeapCost opens keep-alive connections that each
// served one request and measures the server's heap growth per
// connection. The client side uses raw sockets, so the heap the test
// reads is the server's alone.
func TestIdleConnectionHeapCost(t *testing.T) {
	for _, backend := range []string{"uring", "epoll"} {
		t.Run(backend, func(t *testing.T) { testIdleHeap(t, backend) })
	}
}

func testIdleHeap(t *testing.T, backend string) {
	const warm, n = 20, 500
	g, err := loop.NewGroup(1, loop.Config{Port: port.Config{Backend: backend}})
	if err != nil {
		t.Skipf("%s backend: %v", backend, err)
	}
	defer g.Close()
	s := &cphttp.Server{Handler: hello, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	defer s.Close()
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(addr.String())
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	open := func(k int) {
		for range k {
			fd, err := idleClient(sa)
			if fd >= 0 {
				fds = append(fds, fd)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// The first connections grow the server's pools and tables to their
	// resting size; they are in the baseline.
	open(warm)
	before := settledHeap()
	goroutines := runtime.NumGoroutine()
	open(n)
	after := settledHeap()
	per := (int64(after) - int64(before)) / n
	t.Logf("%s: %d heap bytes per idle keep-alive connection", backend, per)
	if per > maxIdleHeap {
		t.Errorf("%s: an idle connection keeps %d heap bytes, want at most %d", backend, per, maxIdleHeap)
	}
	if d := runtime.NumGoroutine() - goroutines; d > n/10 {
		t.Errorf("%s: %d more goroutines with %d idle connections: want none per connection", backend, d, n)
	}
}

// settledHeap is the live heap once the server has finished with the
// last response and a collection has run.
func settledHeap() uint64 {
	time.Sleep(20 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// idleClient connects a raw socket, sends one keep-alive GET and reads
// the whole response; it returns the open socket.
func idleClient(sa unix.Sockaddr) (int, error) {
	fd, err := streamtest.RawDial(sa)
	if err != nil {
		return fd, err
	}
	tv := unix.NsecToTimeval(int64(hangGuard))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fd, err
	}
	if err := streamtest.RawWriteAll(fd, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return fd, err
	}
	var buf [512]byte
	got := 0
	for !bytes.HasSuffix(buf[:got], []byte("Hello, World!")) {
		k, err := streamtest.RawRead(fd, buf[got:])
		if err != nil {
			return fd, err
		}
		if k == 0 {
			return fd, io.ErrUnexpectedEOF
		}
		got += k
	}
	return fd, nil
}
