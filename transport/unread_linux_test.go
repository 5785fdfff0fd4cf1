package transport

import (
	"testing"

	"golang.org/x/sys/unix"
)

// unreadInSocket is how many received bytes wait in socket fd's queue.
func unreadInSocket(t *testing.T, fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		t.Errorf("SIOCINQ: %v", err)
	}
	return n
}
