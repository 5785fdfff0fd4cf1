//go:build !windows

package transport

import (
	"testing"

	"golang.org/x/sys/unix"
)

// skipWithoutUnixSockets: Unix sockets exist here.
func skipWithoutUnixSockets(testing.TB) {}

// skipIfNoGoUDP: Go's net makes UDP sockets here; an error is a failure.
func skipIfNoGoUDP(testing.TB, error) {}

// noDelay reads socket fd's TCP_NODELAY.
func noDelay(fd int) (int, error) {
	return unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
}

// shrinkSendBuffer makes socket fd's send buffer as small as the kernel
// allows, so that a write of more than a few KiB cannot all leave at once.
func shrinkSendBuffer(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
}
