package sock

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The address calls go to Winsock directly with the bytes of PutSockaddr
// and ParseSockaddr, as on Linux: x/sys's typed Sockaddr has its own rules
// for zones and v4-mapped addresses. x/sys exports no raw forms of these
// three calls, so they are looked up in ws2_32.dll.
var (
	ws2          = windows.NewLazySystemDLL("ws2_32.dll")
	procBind     = ws2.NewProc("bind")
	procSockname = ws2.NewProc("getsockname")
	procPeername = ws2.NewProc("getpeername")
)

// socketError is SOCKET_ERROR, the int -1 the three calls return on
// failure; only the low 32 bits of the register carry an int.
const socketError = ^uint32(0)

// rawSockaddr is room for any address, aligned for Winsock.
type rawSockaddr struct {
	windows.RawSockaddrAny
}

func (r *rawSockaddr) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(r)), unsafe.Sizeof(*r))
}

// nameCall runs getsockname or getpeername (proc) on socket fd.
func nameCall(fd int, proc *windows.LazyProc, name string) (Addr, error) {
	var raw rawSockaddr
	n := int32(unsafe.Sizeof(raw))
	if err := startup(); err != nil {
		return Addr{}, err
	}
	rc, _, e := proc.Call(uintptr(fd), uintptr(unsafe.Pointer(&raw)), uintptr(unsafe.Pointer(&n)))
	if uint32(rc) == socketError {
		return Addr{}, os.NewSyscallError(name, e)
	}
	return ParseSockaddr(raw.bytes()[:min(uintptr(n), unsafe.Sizeof(raw))])
}

// LocalSocketAddr is the address socket fd is bound to.
func LocalSocketAddr(fd int) (Addr, error) { return nameCall(fd, procSockname, "getsockname") }

// PeerSocketAddr is the address of the peer connected to socket fd.
func PeerSocketAddr(fd int) (Addr, error) { return nameCall(fd, procPeername, "getpeername") }

// bindAddr binds socket fd to a.
func bindAddr(fd int, a Addr) error {
	var raw rawSockaddr
	n, err := PutSockaddr(raw.bytes(), a)
	if err != nil {
		return err
	}
	rc, _, e := procBind.Call(uintptr(fd), uintptr(unsafe.Pointer(&raw)), uintptr(n))
	if uint32(rc) == socketError {
		return os.NewSyscallError("bind", e)
	}
	return nil
}
