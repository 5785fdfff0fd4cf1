package transport

// The ending tests whose point is the peer's reset. Wine does not turn a
// close with SO_LINGER 0 into a reset the peer sees, so these run on Linux
// only; the Windows backend sets the same option.

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// Abort drops the queue: the peer sees a reset, never a clean end, unless
// it had everything already.
func TestEndingAbort(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	forEachQueue(t, func(t *testing.T, n int) {
		addr, enders := serveEnder(t, g, func(e *ender) {
			e.queue = n
			e.made = func(e *ender) { e.queuePattern(); e.t.Abort() }
		})
		c, err := net.DialTimeout("tcp", addr, hangGuard)
		if errors.Is(err, syscall.ECONNRESET) {
			// The reset came before the dial returned.
			waitLostErr(t, <-enders)
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got, err := readAll(c)
		if wantCutOrWhole(t, got, err, n) && n > 0 {
			t.Errorf("all %d bytes arrived despite Abort with a queue", n)
		}
		if err == nil {
			t.Error("Abort ended the stream cleanly; want a reset")
		}
		waitLostErr(t, <-enders)
	})
}

// The peer resets while the server has a queue: the protocol hears the
// reset as an error, and the queued bytes are not reported as sent.
func TestEndingPeerReset(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	forEachQueue(t, func(t *testing.T, n int) {
		addr, enders := serveEnder(t, g, func(e *ender) {
			e.queue = n
			e.made = func(e *ender) { e.queuePattern() }
		})
		c := dialNet(t, "tcp", addr).(*net.TCPConn)
		e := <-enders
		c.SetLinger(0)
		c.Close()
		err := waitLostErr(t, e)
		// With nothing queued, the reset arrives as a failed read; with a
		// queue, as a failed send. Either way it is an error.
		if err == nil {
			t.Fatal("ConnectionLost(nil) after the peer reset")
		}
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("ConnectionLost(%v), want ECONNRESET or EPIPE", err)
		}
	})
}

// Closing the loop with connections open: each connection either sends
// all it queued and ends cleanly, or the peer sees a reset and the
// protocol an error.
func TestEndingLoopClose(t *testing.T) {
	forEachQueue(t, func(t *testing.T, n int) {
		g, err := loop.NewGroup(1, loop.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		addr, enders := serveEnder(t, g, func(e *ender) {
			e.queue = n
			e.made = func(e *ender) { e.queuePattern() }
		})
		c := dialNet(t, "tcp", addr)
		defer c.Close()
		e := <-enders
		closed := make(chan error, 1)
		go func() { closed <- g.Close() }()
		lostErr := waitLostErr(t, e)
		got, err := readAll(c)
		whole := wantCutOrWhole(t, got, err, n)
		if whole && n > 0 && lostErr != nil {
			t.Errorf("everything arrived, but ConnectionLost(%v)", lostErr)
		}
		if !whole && lostErr == nil {
			t.Errorf("the peer read %d of %d bytes and a reset, but ConnectionLost(nil)", len(got), n)
		}
		select {
		case <-closed:
		case <-time.After(hangGuard):
			t.Fatal("the loop's Close never returned")
		}
	})
}

// Off the loop, where Write cannot return the refusal, a write at the
// limit ends the connection with ErrWriteQueueFull as its cause, and the
// peer sees a reset rather than a stream with a hole in it.
func TestWriteQueueLimitOffLoop(t *testing.T) {
	const limit = 256 << 10
	g := startGroup(t, 1, loop.Config{})
	made := make(chan Transport, 1)
	addr, enders := serveEnder(t, g, func(e *ender) {
		e.made = func(e *ender) { e.t.SetWriteQueueLimit(limit); made <- e.t }
	})
	c := dialNet(t, "tcp", addr)
	defer c.Close()
	e := <-enders
	tr := <-made
	// The peer reads nothing, and its small receive buffer keeps the
	// kernel from absorbing what the limit is about; the writes go on
	// until one fails, the connection being lost.
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	piece := pattern(64 << 10)
	for i := 0; i < 2048; i++ {
		if err := tr.Write(piece); err != nil {
			break
		}
	}
	err := waitLostErr(t, e)
	if !errors.Is(err, ErrWriteQueueFull) {
		t.Fatalf("ConnectionLost(%v), want ErrWriteQueueFull", err)
	}
	if _, rerr := readAll(c); !errors.Is(rerr, syscall.ECONNRESET) {
		t.Errorf("the peer's read ended with %v, want a reset", rerr)
	}
}

// wantCutOrWhole accepts the whole pattern with a clean end, or a prefix
// of it with a reset; never a short stream with a clean end.
func wantCutOrWhole(t *testing.T, got []byte, err error, n int) (whole bool) {
	t.Helper()
	if !bytes.Equal(got, pattern(n)[:min(len(got), n)]) || len(got) > n {
		t.Fatal("the peer read bytes that are not the pattern's")
	}
	switch {
	case err == nil && len(got) == n:
		return true
	case err == nil:
		t.Fatalf("the peer read %d of %d bytes and a clean end of stream: a silent truncation", len(got), n)
	case !errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("the peer read %d of %d bytes, then %v; want a reset", len(got), n, err)
	}
	return false
}
