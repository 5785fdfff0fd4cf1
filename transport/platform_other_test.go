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
