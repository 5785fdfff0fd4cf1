package flow_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// A chat room in flows: every member's flow writes each line it reads to
// every other member's Conn, most of which belong to other loops. A
// flow's call on another loop's Conn parks the flow while the owner does
// the work; it must never block its own loop's thread, or two loops
// writing to each other's members stop for good.
func TestChatAcrossLoops(t *testing.T) {
	const loops, members = 4, 200
	g := startGroup(t, loops)
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	var mu sync.Mutex // the room, shared by flows of every loop
	var room []*flow.Conn
	joined := make(chan struct{}, members)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fc := c.(*flow.Conn)
			mu.Lock()
			room = append(room, fc)
			mu.Unlock()
			joined <- struct{}{}
			flow.Go(fc.Loop(), func(*flow.Flow) {
				defer fc.Close()
				r := bufio.NewReader(fc)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					mu.Lock()
					others := append([]*flow.Conn(nil), room...)
					mu.Unlock()
					for _, o := range others {
						if o != fc {
							if _, err := o.Write([]byte(line)); err != nil {
								t.Errorf("writing to a member: %v", err)
								return
							}
						}
					}
				}
			})
		}
	}()

	clients := make([]net.Conn, members)
	for i := range clients {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), hangGuard)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	for range members {
		within(t, joined, "a member joining")
	}
	// Every member speaks at once; each hears the others.
	errs := make(chan error, members)
	for i, c := range clients {
		go func() {
			c.SetDeadline(time.Now().Add(hangGuard))
			go fmt.Fprintf(c, "hello from %d\n", i)
			r := bufio.NewReader(c)
			for range members - 1 {
				if _, err := r.ReadString('\n'); err != nil {
					errs <- fmt.Errorf("member %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range members {
		if err := within(t, errs, "a member hearing the others"); err != nil {
			t.Fatal(err)
		}
	}
}

// Conn.Close and Listener.Close work from every kind of caller — a flow or
// a callback of the owner's loop, a flow or a callback of another loop, a
// plain goroutine — and never block a loop: the peer sees the end of
// stream, and the listener stops accepting.
func TestCloseFromEveryCaller(t *testing.T) {
	for _, where := range []string{"own flow", "own callback", "other flow", "other callback", "goroutine"} {
		t.Run(where, func(t *testing.T) {
			g := startGroup(t, 1)
			other := startGroup(t, 1).Loops()[0]
			ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			peer, err := net.DialTimeout("tcp", ln.Addr().String(), hangGuard)
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			fc := c.(*flow.Conn)
			closed := make(chan error, 2)
			closeBoth := func() {
				closed <- fc.Close()
				closed <- ln.Close()
			}
			own := fc.Loop()
			switch where {
			case "own flow":
				flow.Go(own, func(*flow.Flow) { closeBoth() })
			case "own callback":
				own.Post(closeBoth)
			case "other flow":
				flow.Go(other, func(*flow.Flow) { closeBoth() })
			case "other callback":
				other.Post(closeBoth)
			default:
				go closeBoth()
			}
			for range 2 {
				if err := within(t, closed, "Close"); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
			peer.SetReadDeadline(time.Now().Add(hangGuard))
			if n, err := peer.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Fatalf("the peer read %d, %v after Close; want the end of stream", n, err)
			}
			for _, l := range []*loop.Loop{own, other} {
				ran := make(chan struct{})
				l.Post(func() { close(ran) })
				within(t, ran, "a turn of the loop")
			}
		})
	}
}

// A Write from a goroutine after the connection's loop has closed fails
// as a write on a closed connection, not as a read.
func TestWriteAfterLoopCloseSaysWrite(t *testing.T) {
	g := startGroup(t, 1)
	ln, err := flow.Listen(context.Background(), g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := flow.Dial(context.Background(), g.Loops()[0], "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	_, err = c.Write([]byte("late"))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after the loop closed: %v; want a write OpError that is net.ErrClosed", err)
	}
}
