package flow_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
)

func startGroup(t testing.TB, n int) *loop.Group {
	t.Helper()
	looptest.Watch(t)
	g, err := loop.NewGroup(n, loop.Config{})
	if err != nil {
		t.Fatalf("NewGroup: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// nettest's conformance suite on flow.Conn, with both ends used from
// plain goroutines: the client dialled from a goroutine, the server end
// taken by Accept from a goroutine.
func TestNettestConn(t *testing.T) {
	g := startGroup(t, 2)
	// One listener serves every pipe. (A listener closed and another
	// opened on the same loop is not polled on the epoll backend: the
	// acceptor closes its socket without the port forgetting the fd.)
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				t.Error(err)
			}
			accepted <- c
		}()
		c1, err = flow.Dial(context.Background(), g.Next(), "tcp", ln.Addr().String())
		if err != nil {
			return nil, nil, nil, err
		}
		c2 = within(t, accepted, "Accept")
		return c1, c2, func() { c1.Close(); c2.Close() }, nil
	})
}

// A parked Read wakes with the bytes a peer sends; Write from a flow
// reaches Go's net; EOF and Close behave as net.Conn's do.
func TestConnFlowEcho(t *testing.T) {
	l := startLoop(t, loop.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		// A plain loop: io.Copy(c, c) would splice a socket into itself.
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				c.Write(buf[:n])
			}
			if err != nil {
				break
			}
		}
		c.Close()
	}()
	run(t, l, func(f *flow.Flow) {
		c, err := flow.Dial(f.Context(), l, "tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		msg := bytes.Repeat([]byte("flow "), 100000) // past the watermarks
		done := flow.Go(l, func(*flow.Flow) {
			if _, err := c.Write(msg); err != nil {
				t.Error(err)
			}
			if err := c.CloseWrite(); err != nil {
				t.Error(err)
			}
		})
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("echo: %d bytes, err %v; want %d bytes", len(got), err, len(msg))
		}
		if err := done.Join(f.Context()); err != nil {
			t.Error(err)
		}
		c.Close()
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close = %v, want net.ErrClosed", err)
		}
	})
}

// Every blocking call on a connection honours deadlines and cancellation:
// Read, Write (against a peer that never reads), Accept and Dial.
func TestConnDeadlinesAndCancel(t *testing.T) {
	g := startGroup(t, 1)
	l := g.Loops()[0]
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var peer net.Conn
	run(t, l, func(f *flow.Flow) {
		c, err := flow.Dial(f.Context(), l, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		a, err := ln.AcceptContext(f.Context())
		if err != nil {
			t.Fatal(err)
		}
		peer = a
		buf := make([]byte, 10)

		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(buf); !isTimeout(err) {
			t.Errorf("Read past deadline = %v, want a timeout", err)
		}
		c.SetReadDeadline(time.Time{})

		ctx, cancel := context.WithTimeout(f.Context(), time.Millisecond)
		if _, err := c.ReadContext(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ReadContext past deadline = %v, want DeadlineExceeded", err)
		}
		cancel()

		c.SetWriteDeadline(time.Now().Add(5 * time.Millisecond))
		big := make([]byte, 1<<20)
		var werr error
		for range 64 { // the peer never reads: the buffers fill
			if _, werr = c.Write(big); werr != nil {
				break
			}
		}
		if !isTimeout(werr) {
			t.Errorf("Write to a stalled peer past deadline = %v, want a timeout", werr)
		}

		ln.SetDeadline(time.Now().Add(time.Millisecond))
		if _, err := ln.AcceptContext(f.Context()); !isTimeout(err) {
			t.Errorf("Accept past deadline = %v, want a timeout", err)
		}
		ln.SetDeadline(time.Time{})

		dctx, dcancel := context.WithCancel(f.Context())
		dcancel()
		if _, err := flow.Dial(dctx, l, "tcp", ln.Addr().String()); !errors.Is(err, context.Canceled) {
			t.Errorf("Dial with a cancelled context = %v, want Canceled", err)
		}
	})
	if peer != nil {
		peer.Close()
	}

	// Cancel reaches a Read parked in another flow.
	ln2, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	parked := make(chan struct{})
	var rerr error
	reader := flow.Go(l, func(f *flow.Flow) {
		c, err := flow.Dial(f.Context(), l, "tcp", ln2.Addr().String())
		if err != nil {
			rerr = err
			close(parked)
			return
		}
		defer c.Close()
		close(parked)
		_, rerr = c.Read(make([]byte, 1))
	})
	within(t, parked, "the reader")
	time.Sleep(time.Millisecond)
	reader.Cancel()
	waitFlow(t, reader)
	if !errors.Is(rerr, context.Canceled) {
		t.Errorf("Read in a cancelled flow = %v, want Canceled", rerr)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// Many flows on one loop each echo over their own connection while
// sleeping in between: I/O and timers interleave with the right bytes.
func TestManyFlowsIO(t *testing.T) {
	g := startGroup(t, 1)
	l := g.Loops()[0]
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 1000
	server := flow.Go(l, func(f *flow.Flow) {
		for range n {
			c, err := ln.AcceptContext(f.Context())
			if err != nil {
				t.Error(err)
				return
			}
			flow.Go(l, func(f *flow.Flow) {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					k, err := c.Read(buf)
					if err != nil {
						return
					}
					f.Sleep(time.Millisecond)
					c.Write(buf[:k])
				}
			})
		}
	})
	clients := make([]*flow.Flow, n)
	for i := range n {
		clients[i] = flow.Go(l, func(f *flow.Flow) {
			c, err := flow.Dial(f.Context(), l, "tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for r := range 3 {
				msg := []byte{byte(i), byte(i >> 8), byte(r)}
				c.Write(msg)
				got := make([]byte, 3)
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Errorf("client %d round %d: got %v, %v; want %v", i, r, got, err, msg)
					return
				}
				f.Sleep(time.Duration(i%3) * time.Millisecond)
			}
		})
	}
	for _, c := range clients {
		waitFlow(t, c)
	}
	waitFlow(t, server)
}

// UDP: ReadFrom parks until a datagram arrives; WriteTo answers; a read
// deadline times out.
func TestPacketConn(t *testing.T) {
	skipIfNoGoUDP(t)
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		pc, err := flow.ListenPacket(f.Context(), l, "udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			c, err := net.Dial("udp", pc.LocalAddr().String())
			if err != nil {
				return
			}
			defer c.Close()
			c.Write([]byte("ping"))
			c.SetReadDeadline(time.Now().Add(hangGuard))
			buf := make([]byte, 10)
			n, _ := c.Read(buf)
			c.Write(buf[:n])
		}()
		buf := make([]byte, 10)
		n, from, err := pc.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("ReadFrom = %q, %v", buf[:n], err)
		}
		pc.WriteTo([]byte("pong"), from)
		n, _, err = pc.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "pong" {
			t.Fatalf("ReadFrom echo = %q, %v", buf[:n], err)
		}
		pc.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, _, err := pc.ReadFrom(buf); !isTimeout(err) {
			t.Errorf("ReadFrom past deadline = %v, want a timeout", err)
		}
	})
}
