package sock

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/windows"
)

// On Windows a socket is a handle; cport passes it around as an int, the
// way the completion port's operations take it. Sockets are created for
// overlapped I/O and not inherited by child processes.

// ListenConfig sets the options of a listening socket.
type ListenConfig struct {
	// Backlog is the accept queue length; zero means the system's maximum.
	Backlog int
	// ReusePort has no Windows equivalent (SO_REUSEADDR there lets another
	// socket steal the port); asking for it is an error.
	ReusePort bool
}

// HasReusePort: Windows has no SO_REUSEPORT; a listener on several loops
// accepts on one socket and hands connections off.
const HasReusePort = false

// ErrUnsupported: the call has no Windows implementation in cport.
var ErrUnsupported = errors.New("sock: not supported on windows")

var startup = sync.OnceValue(func() error {
	var d windows.WSAData
	if err := windows.WSAStartup(uint32(0x202), &d); err != nil {
		return os.NewSyscallError("WSAStartup", err)
	}
	return nil
})

// ListenTCP returns a listening TCP socket bound to addr.
func ListenTCP(addr netip.AddrPort, cfg ListenConfig) (int, error) {
	if cfg.ReusePort {
		return -1, fmt.Errorf("%w: SO_REUSEPORT", ErrUnsupported)
	}
	fd, err := Socket(addr, syscall.SOCK_STREAM)
	if err != nil {
		return -1, err
	}
	h := windows.Handle(fd)
	// Accepted sockets take the listener's options with
	// SO_UPDATE_ACCEPT_CONTEXT, TCP_NODELAY among them.
	if err := NoDelay(fd); err != nil {
		windows.Closesocket(h)
		return -1, err
	}
	if err := bindAddr(fd, IPAddr(addr)); err != nil {
		windows.Closesocket(h)
		return -1, err
	}
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = windows.SOMAXCONN
	}
	if err := windows.Listen(h, backlog); err != nil {
		windows.Closesocket(h)
		return -1, os.NewSyscallError("listen", err)
	}
	return fd, nil
}

// ListenUnix is not available: cport has no AF_UNIX support on Windows.
func ListenUnix(path string, cfg ListenConfig) (int, error) {
	return -1, fmt.Errorf("%w: Unix sockets", ErrUnsupported)
}

// UnixSocket is not available: cport has no AF_UNIX support on Windows.
func UnixSocket(typ int) (int, error) {
	return -1, fmt.Errorf("%w: Unix sockets", ErrUnsupported)
}

// Bind binds socket fd to addr.
func Bind(fd int, addr netip.AddrPort) error { return bindAddr(fd, IPAddr(addr)) }

// Close closes socket fd.
func Close(fd int) error {
	if err := windows.Closesocket(windows.Handle(fd)); err != nil {
		return os.NewSyscallError("closesocket", err)
	}
	return nil
}

// Socket creates an overlapped, non-inheritable socket of addr's family.
func Socket(addr netip.AddrPort, typ int) (int, error) {
	if err := startup(); err != nil {
		return -1, err
	}
	family, proto := int32(windows.AF_INET6), int32(windows.IPPROTO_TCP)
	if addr.Addr().Unmap().Is4() {
		family = windows.AF_INET
	}
	if typ == syscall.SOCK_DGRAM {
		proto = windows.IPPROTO_UDP
	}
	h, err := windows.WSASocket(family, int32(typ), proto, nil, 0,
		windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err != nil {
		return -1, os.NewSyscallError("WSASocket", err)
	}
	if family == windows.AF_INET6 {
		// Windows makes IPv6 sockets v6-only by default, Linux does not:
		// clear it so "[::]:port" takes IPv4 clients too, as on Linux.
		if err := windows.SetsockoptInt(h, windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, 0); err != nil {
			windows.Closesocket(h)
			return -1, os.NewSyscallError("setsockopt(IPV6_V6ONLY)", err)
		}
	}
	return int(h), nil
}

// CheckFree does nothing on Windows, where listening sockets do not share
// a port unless one asks with SO_REUSEADDR, which cport does not.
func CheckFree(addr netip.AddrPort) error { return nil }

// ResetOnClose makes the close of TCP socket fd send a reset and drop
// unsent data (SO_LINGER with a zero timeout), so the peer learns that the
// stream was cut rather than ended.
func ResetOnClose(fd int) error {
	if err := windows.SetsockoptLinger(windows.Handle(fd), windows.SOL_SOCKET, windows.SO_LINGER, &windows.Linger{Onoff: 1, Linger: 0}); err != nil {
		return os.NewSyscallError("setsockopt(SO_LINGER)", err)
	}
	return nil
}

// NoDelay turns Nagle's algorithm off on TCP socket fd, as Go's net does
// by default.
func NoDelay(fd int) error {
	if err := windows.SetsockoptInt(windows.Handle(fd), windows.IPPROTO_TCP, windows.TCP_NODELAY, 1); err != nil {
		return os.NewSyscallError("setsockopt(TCP_NODELAY)", err)
	}
	return nil
}
