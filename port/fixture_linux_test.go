package port_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/port"
)

// The Linux side of the fixtures the shared tests use: a stream is one end
// of a Unix socketpair, its peer the other end, driven with plain system
// calls outside the port (or, where noted, through the port).

// pollSupported says whether the backends take the Poll op.
const pollSupported = true

// multishotMayRunDry says whether a multishot receive may end with
// ENOBUFS even while each buffer is recycled as soon as it is consumed.
// On Linux it does not: once the pool is refilled the stream flows on.
const multishotMayRunDry = false

// streamPeer is the other end of a stream from streamPair.
type streamPeer struct {
	t      testing.TB
	fd     int
	closed bool
}

// streamPair returns a connected stream socket for the port to drive and
// its peer. The port is not needed on Linux.
func streamPair(t testing.TB, _ *testPort) (int, *streamPeer) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	closeOnCleanup(t, fds[0])
	peer := &streamPeer{t: t, fd: fds[1]}
	t.Cleanup(func() {
		if !peer.closed {
			unix.Close(peer.fd)
		}
	})
	return fds[0], peer
}

// write writes all of b to the stream, outside the port.
func (s *streamPeer) write(b []byte) {
	s.t.Helper()
	mustWrite(s.t, s.fd, b)
}

// writeAsync writes b from another goroutine (a large write blocks until
// the port has read enough) and reports the error.
func (s *streamPeer) writeAsync(b []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		for len(b) > 0 {
			n, err := unix.Write(s.fd, b)
			if err != nil {
				done <- err
				return
			}
			b = b[n:]
		}
		done <- nil
	}()
	return done
}

// closeWrite ends the peer's side of the stream: shutdown(SHUT_WR).
func (s *streamPeer) closeWrite() {
	s.t.Helper()
	if err := unix.Shutdown(s.fd, unix.SHUT_WR); err != nil {
		s.t.Fatal(err)
	}
}

// close closes the peer.
func (s *streamPeer) close() {
	s.t.Helper()
	if err := unix.Close(s.fd); err != nil {
		s.t.Fatal(err)
	}
	s.closed = true
}

// readEOF checks that the peer reads end of stream, with a Recv through
// the port.
func (s *streamPeer) readEOF(p *testPort) {
	s.t.Helper()
	wantRes(s.t, "recv on the peer", p.do(port.Recv(s.fd, make([]byte, 16))), 0)
}

// reply sends b from the peer, with a Send through the port.
func (s *streamPeer) reply(p *testPort, b []byte) {
	s.t.Helper()
	wantRes(s.t, "send back", p.do(port.Send(s.fd, b)), int32(len(b)))
}

// newSocket returns an unbound, non-blocking IPv4 socket of type typ.
func newSocket(t testing.TB, typ int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	closeOnCleanup(t, fd)
	return fd
}

// rawSocket returns an unbound IPv4 socket of type typ in the system's
// default blocking mode, which the port must cope with, and leaves
// closing it to the caller.
func rawSocket(t testing.TB, typ int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	return fd
}

// sockaddrPort converts an IPv4 socket address.
func sockaddrPort(t testing.TB, sa unix.Sockaddr) netip.AddrPort {
	t.Helper()
	in, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		t.Fatalf("address %#v, want IPv4", sa)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
}

// localAddr returns socket fd's local address.
func localAddr(t testing.TB, fd int) netip.AddrPort {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return sockaddrPort(t, sa)
}

// peerAddr returns the address socket fd is connected to.
func peerAddr(t testing.TB, fd int) netip.AddrPort {
	t.Helper()
	sa, err := unix.Getpeername(fd)
	if err != nil {
		t.Fatalf("getpeername of socket %d: %v", fd, err)
	}
	return sockaddrPort(t, sa)
}

// checkAccepted checks what an accepted socket must be beyond connected:
// non-blocking on Linux.
func checkAccepted(t testing.TB, fd int) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("accepted fd flags %#x, %v; want O_NONBLOCK", fl, err)
	}
}

// tempFile creates an empty file and returns its fd.
func tempFile(t testing.TB) int {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}
