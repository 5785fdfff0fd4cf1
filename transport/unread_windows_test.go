package transport

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fionread is Winsock's FIONREAD: the bytes a socket can read now.
const fionread = 0x4004667f

// unreadInSocket is how many received bytes wait in socket fd's queue.
func unreadInSocket(t *testing.T, fd int) int {
	var n, ret uint32
	err := windows.WSAIoctl(windows.Handle(fd), fionread, nil, 0, (*byte)(unsafe.Pointer(&n)), 4, &ret, nil, 0)
	if err != nil {
		t.Errorf("FIONREAD: %v", err)
	}
	return int(n)
}
