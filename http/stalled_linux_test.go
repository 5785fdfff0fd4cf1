package http_test

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/internal/streamtest"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// What a stalled hostile peer may keep on the server's heap, while it
// lasts. A peer that sends a head and 10 bytes of a 1000-byte body
// measures about 1.9 KiB (its connection and a buffer fitted to the
// request); before, a flow parked in the handler's Read cost 6.6 KiB of
// heap and a 4 KiB stack. A peer that pipelines requests and reads no
// answer measures 10–13 KiB with 4 KiB answers: the read-ahead and at
// most a capped receive beyond it, an answer and the queue before it;
// with a 4 KiB read-ahead and two receives per arm it was 13–15 KiB,
// with whole-buffer receives and a 16 KiB queue 45–55 KiB, and
// 130 KiB with a parked flow. The goroutine count catches a flow kept per
// peer, whose stack is not heap.
const (
	maxSlowBodyHeap = 4 << 10
	maxPipelineHeap = 20 << 10
)

// TestStalledPeerCost holds many peers of one hostile kind against a
// server as shipped and measures what each costs it while they last.
func TestStalledPeerCost(t *testing.T) {
	for _, backend := range []string{"uring", "epoll"} {
		t.Run(backend+"/slowbody", func(t *testing.T) { testStalledCost(t, backend, "slowbody", maxSlowBodyHeap) })
		t.Run(backend+"/pipeline", func(t *testing.T) { testStalledCost(t, backend, "pipeline", maxPipelineHeap) })
	}
}

func testStalledCost(t *testing.T, backend, kind string, maxHeap int64) {
	const warm, n = 20, 400
	g, err := loop.NewGroup(1, loop.Config{Port: port.Config{Backend: backend}})
	if err != nil {
		t.Skipf("%s backend: %v", backend, err)
	}
	defer g.Close()
	var served atomic.Int64
	page := make([]byte, 4<<10) // an API answer; a peer that reads none stalls soon
	h := cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		served.Add(1)
		b, _ := io.ReadAll(r)
		if len(b) == 0 {
			b = page
		}
		w.Write(b)
	})
	s := &cphttp.Server{Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
		var opened []int
		for range k {
			fd, err := hostilePeer(sa, kind)
			if fd >= 0 {
				fds = append(fds, fd)
				opened = append(opened, fd)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if kind == "pipeline" {
			if err := fillPipelines(opened); err != nil {
				t.Fatal(err)
			}
		}
	}
	open(warm)
	before := stableHeap(t)
	goroutines := runtime.NumGoroutine()
	open(n)
	after := stableHeap(t)
	per := (int64(after) - int64(before)) / n
	t.Logf("%s %s: %d heap bytes per stalled peer (%d requests served)", backend, kind, per, served.Load())
	if per > maxHeap {
		t.Errorf("%s %s: a stalled peer keeps %d heap bytes, want at most %d", backend, kind, per, maxHeap)
	}
	if d := runtime.NumGoroutine() - goroutines; d > n/10 {
		t.Errorf("%s %s: %d more goroutines with %d stalled peers: want no flow per peer", backend, kind, d, n)
	}
}

// stableHeap waits for the server to reach its stalled state, seen as a
// live heap that stops changing, and returns it.
func stableHeap(t *testing.T) uint64 {
	t.Helper()
	prev := settledHeap()
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		cur := settledHeap()
		if d := int64(cur) - int64(prev); d < int64(prev)/100 && -d < int64(prev)/100 {
			return cur
		}
		prev = cur
	}
	t.Fatal("the server's heap never settled")
	return 0
}

// hostilePeer connects a raw socket and misbehaves as kind says:
// slowbody sends a head and 10 bytes of a 1000-byte body; pipeline is
// left to fillPipelines.
func hostilePeer(sa unix.Sockaddr, kind string) (int, error) {
	fd, err := streamtest.RawDialBuffers(sa, 64<<10)
	if err != nil {
		return fd, err
	}
	if kind == "slowbody" {
		return fd, streamtest.RawWriteAll(fd, []byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789"))
	}
	return fd, unix.SetNonblock(fd, true)
}

// fillPipelines writes pipelined requests on every peer until no peer's
// socket takes more twice in a row: the server has stopped reading them.
func fillPipelines(fds []int) error {
	var batch []byte
	for range 200 {
		batch = append(batch, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"...)
	}
	deadline := time.Now().Add(hangGuard)
	for still := 0; still < 2; {
		if time.Now().After(deadline) {
			return errors.New("the server never stopped reading pipelined requests")
		}
		moved := false
		for _, fd := range fds {
			for {
				_, err := unix.Write(fd, batch)
				if err == unix.EAGAIN {
					break
				}
				if err != nil && err != unix.EINTR {
					return err
				}
				moved = true
			}
		}
		if moved {
			still = 0
		} else {
			still++
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
