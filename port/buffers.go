package port

// bufferPool is the memory behind provided buffers: count buffers of size
// bytes in one region outside the Go heap, indexed by buffer ID. The
// backends decide which IDs are free (the kernel's buffer ring for uring, a
// free list for epoll); the pool only maps IDs to memory.
type bufferPool struct {
	mem   []byte
	size  int
	count int
	// lent has a bit set for each buffer a completion handed to the caller
	// and not yet recycled. Recycling a buffer twice would put its ID in the
	// kernel's ring twice and let two receives share one buffer — data
	// crossing between connections — so a second recycle is refused.
	lent []uint64
}

func newBufferPool(count, size int) (*bufferPool, error) {
	mem, err := allocRegion(count * size)
	if err != nil {
		return nil, err
	}
	return &bufferPool{mem: mem, size: size, count: count, lent: make([]uint64, (count+63)/64)}, nil
}

// lend records that a completion gave buffer id to the caller.
func (bp *bufferPool) lend(id uint16) { bp.lent[id/64] |= 1 << (id % 64) }

// giveBack clears id's lent bit and reports whether it was set.
func (bp *bufferPool) giveBack(id uint16) bool {
	if int(id) >= bp.count {
		return false
	}
	w, bit := &bp.lent[id/64], uint64(1)<<(id%64)
	if *w&bit == 0 {
		return false
	}
	*w &^= bit
	return true
}

func (bp *bufferPool) get(id uint16) []byte {
	off := int(id) * bp.size
	return bp.mem[off : off+bp.size : off+bp.size]
}

// discardFrom gives the memory of the buffers from id on back to the
// system; they read as zeros when next used.
func (bp *bufferPool) discardFrom(id int) {
	if id < bp.count && bp.mem != nil {
		discardRegion(bp.mem[id*bp.size:])
	}
}

// discardRange gives the memory of buffers [from, to) back to the system.
func (bp *bufferPool) discardRange(from, to int) {
	if from < to && to <= bp.count && bp.mem != nil {
		discardRegion(bp.mem[from*bp.size : to*bp.size])
	}
}

func (bp *bufferPool) free() {
	if bp.mem != nil {
		freeRegion(bp.mem)
		bp.mem = nil
	}
}
