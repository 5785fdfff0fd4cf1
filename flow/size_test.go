package flow

import (
	"testing"
	"unsafe"
)

// A parked flow holding an idle connection is this package's whole cost
// per connection beside the goroutine stack: the records must stay in
// the allocator's size classes they fit now (320 and 224 bytes on 64-bit
// platforms). Growing one by a field costs every connection 32 bytes or
// more; pack the small fields at the end of the struct.
func TestRecordsStaySmall(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are checked on 64-bit platforms")
	}
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"Flow", unsafe.Sizeof(Flow{}), 320},
		{"Conn", unsafe.Sizeof(Conn{}), 224},
		{"waiter", unsafe.Sizeof(waiter{}), 136},
		{"deadline", unsafe.Sizeof(deadline{}), 24},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, over its %d", c.name, c.size, c.max)
		}
	}
}
