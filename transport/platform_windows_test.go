package transport

import (
	"errors"
	"testing"

	"golang.org/x/sys/windows"
)

// skipWithoutUnixSockets skips a test of Unix sockets: cport has none on
// Windows (sock.ListenUnix and sock.UnixSocket return ErrUnsupported;
// AF_UNIX exists only from Windows 10 1803 and cport does not use it yet).
func skipWithoutUnixSockets(t testing.TB) {
	t.Helper()
	t.Skip("cport has no Unix sockets on Windows (sock.ListenUnix: ErrUnsupported)")
}

// skipIfNoGoUDP skips a test whose peer is a Go net UDP socket when Go
// cannot make one: Go's net sets SIO_UDP_CONNRESET on every Windows UDP
// socket and fails if the ioctl does, which Wine's does (WSAEOPNOTSUPP).
// cport's own sockets do not need it; TestUDPPacketPeer covers UDP there.
func skipIfNoGoUDP(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, windows.WSAEOPNOTSUPP) {
		t.Skipf("Go's net cannot open a UDP socket here (%v): its SIO_UDP_CONNRESET ioctl is unsupported (Wine); TestUDPPacketPeer covers UDP", err)
	}
}

// noDelay reads socket fd's TCP_NODELAY.
func noDelay(fd int) (int, error) {
	return windows.GetsockoptInt(windows.Handle(fd), windows.IPPROTO_TCP, windows.TCP_NODELAY)
}

// shrinkSendBuffer makes socket fd's send buffer small. (On IOCP every
// send is an operation whatever its size; the tests that call this need
// it only where sends may leave at once.)
func shrinkSendBuffer(fd int) error {
	return windows.SetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, windows.SO_SNDBUF, 4096)
}
