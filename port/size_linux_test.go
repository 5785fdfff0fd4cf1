package port

import (
	"testing"
	"unsafe"
)

// The epoll backend keeps one fdState per descriptor number up to the
// highest in use, so with one socket per connection its size is part of
// what each connection costs; its per-operation bookkeeping lives in the
// slot (TestSlotStaysSmall).
func TestEpollFDStateStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(fdState{}); n > 16 {
		t.Errorf("fdState is %d bytes, want at most 16", n)
	}
}
