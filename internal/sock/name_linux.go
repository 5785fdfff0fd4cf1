package sock

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The address calls go to the kernel directly with the bytes of
// PutSockaddr and ParseSockaddr: x/sys's typed Sockaddr drops the length
// the kernel reports, without which an unnamed Unix socket cannot be told
// from the abstract name "@", and it has its own rules for zones and
// v4-mapped addresses.

// rawSockaddr is room for any address, aligned for the kernel.
type rawSockaddr struct {
	unix.RawSockaddrAny
}

func (r *rawSockaddr) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(r)), unsafe.Sizeof(*r))
}

// nameCall runs getsockname or getpeername (trap) on fd.
func nameCall(fd int, trap uintptr, name string) (Addr, error) {
	var raw rawSockaddr
	n := uint32(unsafe.Sizeof(raw))
	_, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&raw)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return Addr{}, os.NewSyscallError(name, e)
	}
	return ParseSockaddr(raw.bytes()[:min(uintptr(n), unsafe.Sizeof(raw))])
}

// LocalSocketAddr is the address socket fd is bound to.
func LocalSocketAddr(fd int) (Addr, error) {
	return nameCall(fd, unix.SYS_GETSOCKNAME, "getsockname")
}

// PeerSocketAddr is the address of the peer connected to socket fd, also
// once the peer has reset the connection: getpeername then fails with
// ENOTCONN, but the socket still holds the address, which SO_PEERNAME
// reads (it asks no state of the connection; its length must not exceed
// the address's, so the family's comes first).
func PeerSocketAddr(fd int) (Addr, error) {
	a, err := nameCall(fd, unix.SYS_GETPEERNAME, "getpeername")
	if !errors.Is(err, unix.ENOTCONN) {
		return a, err
	}
	if kept, kerr := keptPeerName(fd); kerr == nil {
		return kept, nil
	}
	return a, err
}

// keptPeerName reads the peer address an unconnected TCP socket still
// holds (SO_PEERNAME).
func keptPeerName(fd int) (Addr, error) {
	var n uint32
	switch family, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); {
	case err != nil:
		return Addr{}, err
	case family == unix.AF_INET:
		n = unix.SizeofSockaddrInet4
	case family == unix.AF_INET6:
		n = unix.SizeofSockaddrInet6
	default:
		return Addr{}, unix.ENOTCONN
	}
	var raw rawSockaddr
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERNAME,
		uintptr(unsafe.Pointer(&raw)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return Addr{}, e
	}
	peer, err := ParseSockaddr(raw.bytes()[:min(uintptr(n), unsafe.Sizeof(raw))])
	if err != nil || peer.IP.Port() == 0 {
		return Addr{}, unix.ENOTCONN // never connected: no peer kept
	}
	return peer, nil
}

// bindAddr binds socket fd to a.
func bindAddr(fd int, a Addr) error {
	var raw rawSockaddr
	n, err := PutSockaddr(raw.bytes(), a)
	if err != nil {
		return err
	}
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&raw)), uintptr(n))
	if e != 0 {
		return os.NewSyscallError("bind", e)
	}
	return nil
}
