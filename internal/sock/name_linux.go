package sock

import (
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

// PeerSocketAddr is the address of the peer connected to socket fd.
func PeerSocketAddr(fd int) (Addr, error) {
	return nameCall(fd, unix.SYS_GETPEERNAME, "getpeername")
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
