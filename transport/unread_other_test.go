//go:build !linux && !windows

package transport

import "testing"

// unreadInSocket reports nothing here, where the port has no backend and
// the tests that ask do not run.
func unreadInSocket(t *testing.T, fd int) int {
	t.Skip("no completion port on this platform")
	return 0
}
