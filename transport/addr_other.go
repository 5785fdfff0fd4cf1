//go:build !linux && !windows

package transport

import "net"

// localAddr is not available on this platform; no loop runs here to use it.
func localAddr(fd int, network string) net.Addr { return nil }

// remoteAddr is not available on this platform.
func remoteAddr(fd int, network string) net.Addr { return nil }
