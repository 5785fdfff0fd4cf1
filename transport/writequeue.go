package transport

// Chunk sizes for queued writes. A small write takes a small chunk, so ten
// thousand connections each with a 64-byte reply in flight hold 10 MB, not
// 160; a large write fills 64 KiB chunks, so a vectored send carries a lot
// in a few iovecs.
var chunkClasses = [...]int{1 << 10, 16 << 10, 64 << 10}

// maxFreeChunks bounds each class's free list, so the memory a burst took
// is given back to the collector rather than kept forever.
var maxFreeChunks = [...]int{4096, 512, 64}

// maxIovecs is how many segments one vectored send carries.
const maxIovecs = 64

// segment is the unsent part chunk[start:end] of a queued write.
type segment struct {
	chunk      []byte
	class      int8
	start, end int32
}

func (s *segment) bytes() []byte { return s.chunk[s.start:s.end] }

// writeQueue holds a connection's unsent bytes in order. It lives on the
// loop; only the connection's callbacks touch it.
type writeQueue struct {
	segs []segment
	head int
	size int
}

// chunkPool is a loop's free chunks, one list per class.
type chunkPool struct {
	free [len(chunkClasses)][][]byte
}

func (p *chunkPool) get(need int) ([]byte, int8) {
	class := len(chunkClasses) - 1
	for i, size := range chunkClasses {
		if need <= size {
			class = i
			break
		}
	}
	list := p.free[class]
	if n := len(list); n > 0 {
		c := list[n-1]
		list[n-1] = nil
		p.free[class] = list[:n-1]
		return c, int8(class)
	}
	return make([]byte, chunkClasses[class]), int8(class)
}

func (p *chunkPool) put(c []byte, class int8) {
	if len(p.free[class]) < maxFreeChunks[class] {
		p.free[class] = append(p.free[class], c[:cap(c)])
	}
}

// push copies b to the end of the queue.
func (q *writeQueue) push(pool *chunkPool, b []byte) {
	q.size += len(b)
	if n := len(q.segs); n > q.head {
		tail := &q.segs[n-1]
		room := len(tail.chunk) - int(tail.end)
		if room > 0 {
			k := copy(tail.chunk[tail.end:], b)
			tail.end += int32(k)
			b = b[k:]
		}
	}
	for len(b) > 0 {
		c, class := pool.get(len(b))
		k := copy(c, b)
		q.segs = append(q.segs, segment{chunk: c, class: class, end: int32(k)})
		b = b[k:]
	}
}

// consume drops the first n sent bytes, returning emptied chunks.
func (q *writeQueue) consume(pool *chunkPool, n int) {
	q.size -= n
	for n > 0 && q.head < len(q.segs) {
		s := &q.segs[q.head]
		left := int(s.end - s.start)
		if n < left {
			s.start += int32(n)
			return
		}
		n -= left
		pool.put(s.chunk, s.class)
		*s = segment{}
		q.head++
	}
	if q.head == len(q.segs) {
		q.segs = q.segs[:0]
		q.head = 0
	}
}

// pending returns the unsent segments, at most max.
func (q *writeQueue) pending(max int) []segment {
	end := min(len(q.segs), q.head+max)
	return q.segs[q.head:end]
}

// reset drops everything queued (an abort), returning the chunks.
func (q *writeQueue) reset(pool *chunkPool) {
	for i := q.head; i < len(q.segs); i++ {
		pool.put(q.segs[i].chunk, q.segs[i].class)
	}
	q.segs = nil
	q.head = 0
	q.size = 0
}

// shrink gives back the segment array of an idle connection.
func (q *writeQueue) shrink() {
	if q.size == 0 && cap(q.segs) > 4 {
		q.segs = nil
		q.head = 0
	}
}
