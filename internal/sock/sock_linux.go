package sock

import (
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// ListenConfig sets the options of a listening socket.
type ListenConfig struct {
	// Backlog is the accept queue length; zero means the system's maximum.
	Backlog int
	// ReusePort lets several sockets listen on one address, the kernel
	// spreading connections over them (SO_REUSEPORT).
	ReusePort bool
}

// HasReusePort: Linux has SO_REUSEPORT with load balancing (3.9).
const HasReusePort = true

// ListenTCP returns a listening TCP socket bound to addr.
func ListenTCP(addr netip.AddrPort, cfg ListenConfig) (int, error) {
	fd, err := Socket(addr, unix.SOCK_STREAM)
	if err != nil {
		return -1, err
	}
	if err := listen(fd, addr, cfg); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func listen(fd int, addr netip.AddrPort, cfg ListenConfig) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return os.NewSyscallError("setsockopt(SO_REUSEADDR)", err)
	}
	// Accepted sockets inherit TCP_NODELAY from the listener, which saves a
	// system call per connection. Without it Nagle's algorithm holds a
	// short segment back until the previous one is acknowledged, and the
	// peer's delayed ACK turns every such wait into 40 ms.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return os.NewSyscallError("setsockopt(TCP_NODELAY)", err)
	}
	if cfg.ReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return os.NewSyscallError("setsockopt(SO_REUSEPORT)", err)
		}
	}
	if err := bindAddr(fd, IPAddr(addr)); err != nil {
		return err
	}
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return os.NewSyscallError("listen", err)
	}
	return nil
}

// CheckFree fails with EADDRINUSE if a socket already listens on addr:
// listening sockets that set SO_REUSEPORT share a port with any other
// process of the same user that does, which must be asked for, not found
// by surprise. It binds a probe socket without SO_REUSEPORT and closes it.
func CheckFree(addr netip.AddrPort) error {
	fd, err := Socket(addr, unix.SOCK_STREAM)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return os.NewSyscallError("setsockopt(SO_REUSEADDR)", err)
	}
	return bindAddr(fd, IPAddr(addr))
}

// ListenUnix returns a listening Unix stream socket at path. An existing
// socket file at path is left alone: bind fails with EADDRINUSE, as net does.
func ListenUnix(path string, cfg ListenConfig) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := bindAddr(fd, UnixAddr(path)); err != nil {
		unix.Close(fd)
		return -1, err
	}
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("listen", err)
	}
	return fd, nil
}

// UnixSocket creates a non-blocking, close-on-exec Unix socket.
func UnixSocket(typ int) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// Bind binds socket fd to addr.
func Bind(fd int, addr netip.AddrPort) error { return bindAddr(fd, IPAddr(addr)) }

// Close closes fd.
func Close(fd int) error { return unix.Close(fd) }

// Socket creates a non-blocking, close-on-exec socket of addr's family;
// an IPv4-mapped address is IPv4, as PutSockaddr writes it.
func Socket(addr netip.AddrPort, typ int) (int, error) {
	family := unix.AF_INET6
	if addr.Addr().Unmap().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// NoDelay turns Nagle's algorithm off on TCP socket fd, as Go's net does
// by default.
func NoDelay(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return os.NewSyscallError("setsockopt(TCP_NODELAY)", err)
	}
	return nil
}

// ResetOnClose makes the close of TCP socket fd send a reset and drop
// unsent data (SO_LINGER with a zero timeout), so the peer learns that the
// stream was cut rather than ended.
func ResetOnClose(fd int) error {
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return os.NewSyscallError("setsockopt(SO_LINGER)", err)
	}
	return nil
}
