package flow

import "github.com/cport/cport/loop"

// Read buffers hold what a Conn received before its reader took it. They
// come from a per-loop free list by size class, so a connection that is
// read as fast as data arrives reuses a few warm buffers, and an idle
// one holds none. The smallest class is small because in a burst every
// connection of a loop may hold its message at once, before any of their
// flows runs: 9,000 clients each sending 64 bytes took 36 MB of 4 KiB
// buffers, which the heap then kept, where 1 KiB ones take 9 MB.
const (
	readBufClasses  = 6       // 1 KiB, 4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB
	minReadBuf      = 1 << 10 // the smallest class
	maxFreeReadBufs = 64      // spares kept per class and loop
)

type readBuffers struct {
	free [readBufClasses][][]byte
}

var loopReadBuffers = loop.NewLocal[readBuffers]()

// readBufClass is the smallest class holding n bytes, or -1 if none does.
func readBufClass(n int) int {
	size := minReadBuf
	for c := range readBufClasses {
		if n <= size {
			return c
		}
		size <<= 2
	}
	return -1
}

// get returns an empty buffer with room for n bytes.
func (rb *readBuffers) get(n int) []byte {
	c := readBufClass(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if k := len(rb.free[c]); k > 0 {
		b := rb.free[c][k-1]
		rb.free[c][k-1] = nil
		rb.free[c] = rb.free[c][:k-1]
		return b
	}
	return make([]byte, 0, minReadBuf<<(2*c))
}

// put takes b back, unless it is not of a class size or its class has
// spares enough.
func (rb *readBuffers) put(b []byte) {
	c := readBufClass(cap(b))
	if c < 0 || cap(b) != minReadBuf<<(2*c) || len(rb.free[c]) >= maxFreeReadBufs {
		return
	}
	rb.free[c] = append(rb.free[c], b[:0])
}
