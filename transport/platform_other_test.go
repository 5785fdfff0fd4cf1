//go:build !windows

package transport

import "testing"

// skipWithoutUnixSockets: Unix sockets exist here.
func skipWithoutUnixSockets(testing.TB) {}

// skipIfNoGoUDP: Go's net makes UDP sockets here; an error is a failure.
func skipIfNoGoUDP(testing.TB, error) {}
