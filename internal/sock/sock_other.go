//go:build !linux && !windows

package sock

import (
	"fmt"
	"net/netip"
	"runtime"
)

// ListenConfig sets the options of a listening socket.
type ListenConfig struct {
	Backlog   int
	ReusePort bool
}

// HasReusePort: cport has no sockets here at all.
const HasReusePort = false

var errUnsupported = fmt.Errorf("sock: cport's sockets are not implemented on %s", runtime.GOOS)

// ListenTCP is not available on this platform.
func ListenTCP(addr netip.AddrPort, cfg ListenConfig) (int, error) { return -1, errUnsupported }

// ListenUnix is not available on this platform.
func ListenUnix(path string, cfg ListenConfig) (int, error) { return -1, errUnsupported }

// Socket is not available on this platform.
func Socket(addr netip.AddrPort, typ int) (int, error) { return -1, errUnsupported }

// UnixSocket is not available on this platform.
func UnixSocket(typ int) (int, error) { return -1, errUnsupported }

// Bind is not available on this platform.
func Bind(fd int, addr netip.AddrPort) error { return errUnsupported }

// Close is not available on this platform.
func Close(fd int) error { return errUnsupported }

// LocalAddr is not available on this platform.
func LocalAddr(fd int) (netip.AddrPort, error) { return netip.AddrPort{}, errUnsupported }

// PeerAddr is not available on this platform.
func PeerAddr(fd int) (netip.AddrPort, error) { return netip.AddrPort{}, errUnsupported }

// NoDelay is not available on this platform.
func NoDelay(fd int) error { return errUnsupported }

// CheckFree is unsupported here.
func CheckFree(addr netip.AddrPort) error { return errUnsupported }

// ResetOnClose is unsupported here.
func ResetOnClose(fd int) error { return errUnsupported }
