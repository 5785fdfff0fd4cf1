package port

import (
	"testing"
	"unsafe"
)

// Every pending operation holds a slot, and an idle connection holds one
// pending receive: the slot's size is part of what each connection costs.
func TestSlotStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(Op{}); n > 48 {
		t.Errorf("Op is %d bytes, want at most 48", n)
	}
	if n := unsafe.Sizeof(slot{}); n > 64 && unsafe.Sizeof(slotSys{}) == 0 {
		t.Errorf("slot is %d bytes, want at most 64", n)
	}
}
