package transport

import (
	"io"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cport/cport/loop"
)

// A burst of connections each writing 256 KiB at once fills the loop's
// free lists with the chunks, segment lists and send messages it used.
// Once the loop is idle they must go back: within two trim periods the
// lists are empty. Without the trim they kept it all for good.
func TestBurstPoolsGoBack(t *testing.T) {
	old := poolTrimEvery
	poolTrimEvery = 50 * time.Millisecond
	t.Cleanup(func() { poolTrimEvery = old })

	const conns, each = 32, 256 << 10
	g := startGroup(t, 1, loop.Config{})
	l := g.Loops()[0]
	payload := make([]byte, each)
	ln, err := Listen(g, "tcp", "127.0.0.1:0", func() Protocol { return &writeOnMade{payload: payload} })
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })

	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		c := dialNet(t, "tcp", ln.Addr().String())
		t.Cleanup(func() { c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(hangGuard))
			if _, err := io.ReadFull(c, make([]byte, each)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("reading the server's write: %v", err)
	}

	pools := func() (spare, trimmed int) {
		done := make(chan struct{})
		if err := l.Post(func() {
			sh := sharedLocal.Get(l)
			spare, trimmed = sh.spareBytes(), sh.trimmed
			close(done)
		}); err != nil {
			t.Fatalf("Post: %v", err)
		}
		<-done
		return spare, trimmed
	}
	spare, trimmed := pools()
	for deadline := time.Now().Add(hangGuard); spare != 0; spare, trimmed = pools() {
		if time.Now().After(deadline) {
			t.Fatalf("the loop's free lists still hold %d bytes %v after the burst (trimmed %d)", spare, hangGuard, trimmed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The burst did use the pools: a 256 KiB write fills four 64 KiB
	// chunks before its send completes, and they went to the free list.
	if trimmed < 4*chunkClasses[len(chunkClasses)-1] {
		t.Fatalf("the trim gave back %d bytes of chunks, want at least one write's four 64 KiB chunks", trimmed)
	}
}

// writeOnMade writes its payload as soon as it is connected.
type writeOnMade struct {
	BaseProtocol
	payload []byte
}

func (w *writeOnMade) ConnectionMade(t Transport) {
	// With a small send buffer most of the payload is queued even where
	// sends leave at once (epoll).
	if err := shrinkSendBuffer(int(t.(*conn).fd)); err != nil {
		panic(err)
	}
	t.Write(w.payload)
}

// spareBytes is what the free lists hold, roughly: the chunks' memory and
// the segment lists' and send messages' arrays.
func (s *shared) spareBytes() int {
	n := 0
	for i := range s.chunks.free {
		n += len(s.chunks.free[i].items) * chunkClasses[i]
	}
	for _, l := range s.segs.free.items {
		n += cap(l.s) * int(unsafe.Sizeof(segment{}))
	}
	for _, m := range s.msgs.items {
		n += cap(m.Buffers) * int(unsafe.Sizeof([]byte(nil)))
	}
	return n
}
