package flow_test

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/flow"
)

// Dials that cannot complete do not hold up others: each parks its flow
// on the connect, with no worker or thread held, so a dial to a live
// server made while 64 hang still connects.
func TestSlowDialsDoNotQueue(t *testing.T) {
	const slow = 64
	hole := unansweredAddr(t)
	g := startGroup(t, 2)
	live, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	slowDone := make(chan error, slow)
	for i := range slow {
		flow.Go(g.Loops()[i%2], func(f *flow.Flow) {
			ctx, cancel := context.WithTimeout(f.Context(), 3*time.Second)
			defer cancel()
			c, err := flow.Dial(ctx, f.Loop(), "tcp", hole)
			if err == nil {
				c.Close()
			}
			slowDone <- err
		})
	}
	liveDone := make(chan error, 1)
	flow.Go(g.Loops()[0], func(f *flow.Flow) {
		ctx, cancel := context.WithTimeout(f.Context(), 2*time.Second)
		defer cancel()
		c, err := flow.Dial(ctx, g.Loops()[1], "tcp", live.Addr().String())
		if err == nil {
			c.Close()
		}
		liveDone <- err
	})
	if err := within(t, liveDone, "the live dial"); err != nil {
		t.Fatalf("the dial to a live server, made while %d others hang: %v", slow, err)
	}
	for range slow {
		if err := within(t, slowDone, "a hanging dial's end"); err == nil {
			t.Error("a dial to an address that never answers succeeded")
		}
	}
}

// unansweredAddr is a listening address whose accept queue is full and
// never drained, so that connection attempts to it hang until cancelled.
func unansweredAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 4 { // fill the queue
		d := net.Dialer{Timeout: 100 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}
