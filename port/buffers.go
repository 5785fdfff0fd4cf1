package port

// bufferPool is the memory behind provided buffers: count buffers of size
// bytes in one region outside the Go heap, indexed by buffer ID. The
// backends decide which IDs are free (the kernel's buffer ring for uring, a
// free list for epoll); the pool only maps IDs to memory.
type bufferPool struct {
	mem   []byte
	size  int
	count int
}

func newBufferPool(count, size int) (*bufferPool, error) {
	mem, err := allocRegion(count * size)
	if err != nil {
		return nil, err
	}
	return &bufferPool{mem: mem, size: size, count: count}, nil
}

func (bp *bufferPool) get(id uint16) []byte {
	off := int(id) * bp.size
	return bp.mem[off : off+bp.size : off+bp.size]
}

func (bp *bufferPool) free() {
	if bp.mem != nil {
		freeRegion(bp.mem)
		bp.mem = nil
	}
}
