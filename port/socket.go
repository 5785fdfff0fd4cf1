package port

import (
	"net/netip"

	"github.com/cport/cport/internal/sock"
)

// The few socket calls a program driving a Port directly needs around its
// operations: a listening socket to accept on, the addresses of the
// sockets its accepts and connects produce, and closing them. They are
// plain descriptors (handles on Windows), non-blocking and close-on-exec,
// ready for Accept, Recv, Send and the rest. Higher layers (transport,
// flow) make and own their sockets themselves.

// ListenTCP opens a TCP socket listening on addr (port 0 picks a free
// one) with the system's largest backlog. A port another socket listens
// on is an error (EADDRINUSE), as with net.Listen.
func ListenTCP(addr netip.AddrPort) (fd int, err error) {
	return sock.ListenTCP(addr, sock.ListenConfig{})
}

// LocalAddr is the address socket fd is bound to.
func LocalAddr(fd int) (netip.AddrPort, error) { return sock.LocalAddr(fd) }

// PeerAddr is the address of the peer connected to socket fd (an
// accepted socket, or one whose Connect completed).
func PeerAddr(fd int) (netip.AddrPort, error) { return sock.PeerAddr(fd) }

// CloseSocket closes socket fd at once. With a Port, an operation still
// in flight on it completes with an error; prefer the Close operation to
// close it in order with the port's other work.
func CloseSocket(fd int) error { return sock.Close(fd) }
