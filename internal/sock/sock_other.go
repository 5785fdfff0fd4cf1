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

var errUnsupported = fmt.Errorf("sock: raw sockets for cport are not implemented on %s", runtime.GOOS)

// ListenTCP is not available on this platform.
func ListenTCP(addr netip.AddrPort, cfg ListenConfig) (int, error) { return -1, errUnsupported }

// LocalAddr is not available on this platform.
func LocalAddr(fd int) (netip.AddrPort, error) { return netip.AddrPort{}, errUnsupported }

// PeerAddr is not available on this platform.
func PeerAddr(fd int) (netip.AddrPort, error) { return netip.AddrPort{}, errUnsupported }
