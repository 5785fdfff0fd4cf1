package flow_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// netPeer accepts one connection with Go's net package and hands it over.
func netPeer(t *testing.T) (addr string, peer <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			ch <- c
		}
	}()
	return ln.Addr().String(), ch
}

// A stream of random-sized writes read with Next arrives whole and in
// order, while the reading flow now and then sleeps (data piles up and a
// lent buffer must be moved out of) and Next's slices are checked to
// stay unchanged until the next call.
func TestNextStream(t *testing.T) {
	l := startLoop(t, loop.Config{})
	addr, peerc := netPeer(t)
	const total = 4 << 20
	sent := make(chan [32]byte, 1)
	go func() {
		c := <-peerc
		defer c.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		h := sha256.New()
		for left := total; left > 0; {
			b := make([]byte, min(left, 1+rng.IntN(100<<10)))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			h.Write(b)
			if _, err := c.Write(b); err != nil {
				return
			}
			left -= len(b)
		}
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		sent <- sum
	}()
	run(t, l, func(f *flow.Flow) {
		c, err := flow.Dial(f.Context(), l, "tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		h := sha256.New()
		n := 0
		for i := 0; ; i++ {
			b, err := c.Next()
			if len(b) > 0 {
				snapshot := bytes.Clone(b)
				if i%7 == 0 {
					f.Sleep(time.Millisecond) // more arrives meanwhile
				}
				if !bytes.Equal(b, snapshot) {
					t.Errorf("a slice Next returned changed before the next call")
					return
				}
				h.Write(b)
				n += len(b)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("Next: %v", err)
				return
			}
		}
		want := within(t, sent, "the sender's sum")
		if n != total || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Errorf("Next read %d bytes (checksum match %v), want %d", n, bytes.Equal(h.Sum(nil), want[:]), total)
		}
	})
}

// Next honours the read deadline and the context, fails after Close,
// and works from a plain goroutine, where it blocks.
func TestNextErrors(t *testing.T) {
	l := startLoop(t, loop.Config{})
	addr, peerc := netPeer(t)
	var c *flow.Conn
	run(t, l, func(f *flow.Flow) {
		var err error
		if c, err = flow.Dial(f.Context(), l, "tcp", addr); err != nil {
			t.Error(err)
			return
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Next(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Next past the deadline = %v, want os.ErrDeadlineExceeded", err)
		}
		c.SetReadDeadline(time.Time{})
		ctx, cancel := context.WithTimeout(f.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := c.NextContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next with an ending context = %v, want context.DeadlineExceeded", err)
		}
	})
	if c == nil {
		return
	}
	peer := within(t, peerc, "the peer")
	defer peer.Close()
	peer.Write([]byte("to a goroutine"))
	if b, err := c.Next(); err != nil || string(b) != "to a goroutine" {
		t.Errorf("Next from a goroutine = %q, %v", b, err)
	}
	c.Close()
	if _, err := c.Next(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Next after Close = %v, want net.ErrClosed", err)
	}
}

// A flow parked in Next after echoing holds no read buffer: what it
// costs in heap beyond its connection is its flow records, well under
// the 4 KiB a Read buffer would add. Memory, not time: asserted.
func TestNextHoldsNoBuffer(t *testing.T) {
	const n = 500
	l, ln := flowListener(t)
	clients, servers := dialPairs(t, l, ln, n)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	fs := make([]*flow.Flow, n)
	for i := range n {
		fs[i] = flow.Go(l, func(*flow.Flow) { echoWithNext(servers[i]) })
	}
	reply := make([]byte, 1000)
	for _, c := range clients {
		if _, err := c.Write(bytes.Repeat([]byte("x"), len(reply))); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			t.Fatal(err)
		}
	}
	perFlow := float64(heap()-before) / n
	t.Logf("heap per flow parked in Next after an echo: %.0f B", perFlow)
	if perFlow > 2<<10 {
		t.Errorf("a flow parked in Next holds %.0f B of heap; a read buffer is kept", perFlow)
	}
	for _, c := range clients {
		c.Close()
	}
	for _, f := range fs {
		waitFlow(t, f)
	}
}

// A slice Next returned stays as it was after Close, which may come from
// another goroutine while the reader still reads it (a server shutting
// down its connections): the closed connection's buffer must not go back
// to the loop's spares, where the next connection to receive would write
// over it.
func TestNextSliceSurvivesClose(t *testing.T) {
	l := startLoop(t, loop.Config{})
	dial := func() (*flow.Conn, net.Conn) {
		addr, peerc := netPeer(t)
		var c *flow.Conn
		run(t, l, func(f *flow.Flow) {
			var err error
			if c, err = flow.Dial(f.Context(), l, "tcp", addr); err != nil {
				t.Error(err)
			}
		})
		if c == nil {
			t.FailNow()
		}
		peer := within(t, peerc, "the peer")
		t.Cleanup(func() { peer.Close(); c.Close() })
		return c, peer
	}
	first, firstPeer := dial()
	second, secondPeer := dial()
	firstPeer.Write([]byte("first connection's bytes"))
	b, err := first.Next()
	if err != nil || string(b) != "first connection's bytes" {
		t.Fatalf("Next = %q, %v", b, err)
	}
	first.Close()
	secondPeer.Write(bytes.Repeat([]byte("Z"), 1000))
	if got, err := second.Next(); err != nil || len(got) == 0 {
		t.Fatalf("second connection's Next = %d bytes, %v", len(got), err)
	}
	if string(b) != "first connection's bytes" {
		t.Errorf("after Close the slice Next lent reads %q: its buffer went on to another connection", b)
	}
}
