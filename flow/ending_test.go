package flow_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/internal/streamtest"
	"github.com/cport/cport/loop"
)

// The end-of-connection matrix for flows, as transport's for callbacks:
// every way a flow's connection ends, with 0 B, 1 MiB and 64 MiB queued
// at that moment (the watermark raised so that Write queues it all without
// parking). The Go peer receives everything and a clean end of stream, or
// a reset, and the flow's Write hears of a loss as an error.

var flowEndingQueues = []int{0, 1 << 20, 64 << 20}

func endPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// serveOneFlow accepts one connection on a fresh one-loop group and runs
// body as its flow; it returns the address and a channel that yields the
// body's error when the flow ends.
func serveOneFlow(t *testing.T, body func(c *flow.Conn) error) (string, <-chan error, *loop.Group) {
	t.Helper()
	g := startGroup(t, 1)
	ln, err := flow.Listen(t.Context(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		fc := c.(*flow.Conn)
		flow.Go(fc.Loop(), func(*flow.Flow) { done <- body(fc) })
	}()
	return ln.Addr().String(), done, g
}

// queueAll raises c's watermark to n and writes the pattern: the whole of
// it is queued when Write returns.
func queueAll(c *flow.Conn, n int) error {
	if n == 0 {
		return nil
	}
	c.Transport().SetWriteBufferLimits(n+1, n/4)
	_, err := c.Write(endPattern(n))
	return err
}

// readToEnd dials addr, runs before, and reads to the end of stream; the
// connection stays open until the test ends.
func readToEnd(t *testing.T, addr string, before func(*net.TCPConn)) ([]byte, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hangGuard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tc := c.(*net.TCPConn)
	if before != nil {
		before(tc)
	}
	return streamtest.ReadToEnd(c, hangGuard)
}

// wantAllOf checks what the peer read: all n bytes of the pattern and a
// clean end. On a failed read it also says how the flow ended, if it has.
func wantAllOf(t *testing.T, got []byte, err error, n int, done <-chan error) {
	t.Helper()
	switch {
	case err != nil:
		flowEnd := "the flow had not ended 2 s later"
		select {
		case ferr := <-done:
			flowEnd = fmt.Sprintf("the flow ended with %v", ferr)
		case <-time.After(2 * time.Second): // a bound on a diagnosis, not a measure
		}
		t.Fatalf("the peer read %d of %d bytes, then %v; %s", len(got), n, err, flowEnd)
	case len(got) != n:
		t.Fatalf("the peer read %d of %d bytes and a clean end of stream: a silent truncation", len(got), n)
	case !bytes.Equal(got, endPattern(n)):
		t.Fatal("the peer read other bytes than the flow wrote")
	}
}

func eachQueue(t *testing.T, run func(t *testing.T, n int)) {
	for _, n := range flowEndingQueues {
		t.Run(fmt.Sprintf("queue=%d", n), func(t *testing.T) { run(t, n) })
	}
}

func TestFlowEndingClose(t *testing.T) {
	eachQueue(t, func(t *testing.T, n int) {
		addr, done, _ := serveOneFlow(t, func(c *flow.Conn) error {
			if err := queueAll(c, n); err != nil {
				return err
			}
			return c.Close()
		})
		got, err := readToEnd(t, addr, nil)
		wantAllOf(t, got, err, n, done)
		if err := within(t, done, "the flow's end"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFlowEndingCloseWriteThenClose(t *testing.T) {
	eachQueue(t, func(t *testing.T, n int) {
		addr, done, _ := serveOneFlow(t, func(c *flow.Conn) error {
			if err := queueAll(c, n); err != nil {
				return err
			}
			if err := c.CloseWrite(); err != nil {
				return err
			}
			// Reading goes on after CloseWrite: the peer's last word.
			b, err := io.ReadAll(c)
			if err != nil || string(b) != "bye" {
				return fmt.Errorf("read %q, %v after CloseWrite; want %q", b, err, "bye")
			}
			return c.Close()
		})
		var peer *net.TCPConn
		got, err := readToEnd(t, addr, func(c *net.TCPConn) { peer = c })
		wantAllOf(t, got, err, n, done)
		peer.Write([]byte("bye"))
		peer.CloseWrite()
		if err := within(t, done, "the flow's end"); err != nil {
			t.Fatal(err)
		}
	})
}

// The peer half-closes first; the flow reads to EOF, then answers with n
// bytes and closes.
func TestFlowEndingPeerHalfClose(t *testing.T) {
	eachQueue(t, func(t *testing.T, n int) {
		addr, done, _ := serveOneFlow(t, func(c *flow.Conn) error {
			if _, err := io.ReadAll(c); err != nil {
				return err
			}
			if err := queueAll(c, n); err != nil {
				return err
			}
			return c.Close()
		})
		got, err := readToEnd(t, addr, func(c *net.TCPConn) {
			c.Write([]byte("request"))
			c.CloseWrite()
		})
		wantAllOf(t, got, err, n, done)
		if err := within(t, done, "the flow's end"); err != nil {
			t.Fatal(err)
		}
	})
}

// The peer resets while a flow's Write is parked against it: the Write
// fails with the reset, it does not report the bytes as written.
func TestFlowEndingPeerResetWhileWriteParked(t *testing.T) {
	eachQueue(t, func(t *testing.T, n int) {
		parked := make(chan struct{})
		addr, done, _ := serveOneFlow(t, func(c *flow.Conn) error {
			close(parked)
			// The default watermark: a large write parks until the peer
			// reads, which it never does.
			_, err := c.Write(endPattern(n + 8<<20))
			c.Close()
			return err
		})
		c, err := net.DialTimeout("tcp", addr, hangGuard)
		if err != nil {
			t.Fatal(err)
		}
		within(t, parked, "the flow's start")
		time.Sleep(10 * time.Millisecond) // let the Write park; either order is a valid test
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		werr := within(t, done, "the parked Write's end")
		// The reset surfaces as ECONNRESET or EPIPE on Linux, and as
		// other codes under Windows; what matters is that Write fails.
		if werr == nil {
			t.Fatal("Write returned nil after the peer reset")
		}
	})
}
