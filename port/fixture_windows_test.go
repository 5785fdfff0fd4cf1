package port_test

import (
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/cport/cport/internal/sock"
)

// The Windows side of the fixtures the shared tests use: a stream is a
// socket accepted with the Accept op, its peer a Go net.Conn (with its
// own completion port).

// pollSupported says whether the backend takes the Poll op: iocp does not.
const pollSupported = false

// multishotMayRunDry says whether a multishot receive may end with
// ENOBUFS even while each buffer is recycled as soon as it is consumed:
// iocp's emulated multishot can, between two Waits, and is re-armed.
const multishotMayRunDry = true

// streamPeer is the other end of a stream from streamPair.
type streamPeer struct {
	t    testing.TB
	conn net.Conn
}

// streamPair returns a connected socket for the port to drive and its
// peer.
func streamPair(t testing.TB, p *testPort) (int, *streamPeer) {
	t.Helper()
	fd, conn := connPair(t, p)
	return fd, &streamPeer{t: t, conn: conn}
}

// write writes all of b to the stream.
func (s *streamPeer) write(b []byte) {
	s.t.Helper()
	if _, err := s.conn.Write(b); err != nil {
		s.t.Fatalf("peer write: %v", err)
	}
}

// writeAsync writes b from another goroutine (a large write blocks until
// the port has read enough) and reports the error.
func (s *streamPeer) writeAsync(b []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.conn.Write(b)
		done <- err
	}()
	return done
}

// closeWrite ends the peer's side of the stream: it closes the peer.
func (s *streamPeer) closeWrite() { s.close() }

// close closes the peer.
func (s *streamPeer) close() { s.conn.Close() }

// readEOF checks that the peer reads end of stream.
func (s *streamPeer) readEOF(*testPort) {
	s.t.Helper()
	if b, err := io.ReadAll(s.conn); err != nil || len(b) != 0 {
		s.t.Fatalf("peer read %q, %v; want end of stream", b, err)
	}
}

// reply sends b from the peer.
func (s *streamPeer) reply(_ *testPort, b []byte) {
	s.t.Helper()
	s.write(b)
}

// rawSocket returns an unbound IPv4 socket of type typ that the test
// closes itself.
func rawSocket(t testing.TB, typ int) int {
	t.Helper()
	fd, err := sock.Socket(loopback, typ)
	if err != nil {
		t.Fatalf("Socket: %v", err)
	}
	return fd
}

// localAddr returns socket fd's local address.
func localAddr(t testing.TB, fd int) netip.AddrPort {
	t.Helper()
	addr, err := sock.LocalAddr(fd)
	if err != nil {
		t.Fatalf("LocalAddr of socket %d: %v", fd, err)
	}
	return addr
}

// peerAddr returns the address socket fd is connected to. For a socket
// from AcceptEx or ConnectEx it works only once the port has updated its
// context (SO_UPDATE_ACCEPT_CONTEXT, SO_UPDATE_CONNECT_CONTEXT).
func peerAddr(t testing.TB, fd int) netip.AddrPort {
	t.Helper()
	addr, err := sock.PeerAddr(fd)
	if err != nil {
		t.Fatalf("PeerAddr of socket %d (SO_UPDATE_ACCEPT_CONTEXT or SO_UPDATE_CONNECT_CONTEXT): %v", fd, err)
	}
	return addr
}

// checkAccepted checks what an accepted socket must be beyond connected:
// nothing more on Windows (peerAddr checks its context).
func checkAccepted(testing.TB, int) {}

// tempFile creates an empty file for overlapped I/O and returns its
// handle.
func tempFile(t testing.TB) int {
	t.Helper()
	return overlappedFile(t)
}
