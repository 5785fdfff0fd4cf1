package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// A dial that cannot complete (the server's accept queue is full, so its
// SYNs go unanswered) ends at the context's deadline with a timeout error.
func TestDialTimeout(t *testing.T) {
	lfd, addr := fullBacklogListener(t)
	defer syscall.Close(lfd)
	g := startGroup(t, 1, loop.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, g.Loops()[0], "tcp", addr, newRecorder())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Dial = %v, want a timeout error", err)
	}
}

// fullBacklogListener listens with a backlog of one and never accepts,
// then fills the queue, so further connection attempts hang.
func fullBacklogListener(t *testing.T) (int, string) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue: these complete or hang; either way they are
	// ours and on loopback.
	for i := 0; i < 4; i++ {
		d := net.Dialer{Timeout: 100 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return fd, addr
}
