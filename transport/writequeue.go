package transport

import "sync/atomic"

// Chunk sizes for queued writes. A small write takes a small chunk, so ten
// thousand connections each with a 64-byte reply in flight hold 10 MB, not
// 160; a large write fills 64 KiB chunks, so a vectored send carries a lot
// in a few iovecs.
var chunkClasses = [...]int{1 << 10, 4 << 10, 16 << 10, 64 << 10}

// maxFreeChunks bounds each class's free list, so the memory a burst took
// is given back to the collector rather than kept forever.
var maxFreeChunks = [...]int{4096, 1024, 512, 64}

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
// loop; only the connection's callbacks change it. size is atomic so that
// WriteBufferSize may read it from any goroutine.
type writeQueue struct {
	segs []segment
	size atomic.Int32
	head int32
}

// DefaultWriteQueueLimit bounds a connection's write queue unless
// SetWriteQueueLimit says otherwise. Reading pauses at the high watermark,
// so a protocol that writes only in answer to what it reads stays near
// that; one that writes on its own and ignores PauseWriting gets
// ErrWriteQueueFull here rather than a queue that grows until the
// process dies.
const DefaultWriteQueueLimit = 4 << 20

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

// segArrays are spare segment arrays: a connection takes one when it
// queues a write and gives it back when its queue drains, so an idle
// connection holds none and a busy one allocates none.
type segArrays struct {
	free [][]segment
}

const maxSpareSegArrays = 4096

func (a *segArrays) get() []segment {
	if n := len(a.free); n > 0 {
		s := a.free[n-1]
		a.free[n-1] = nil
		a.free = a.free[:n-1]
		return s
	}
	return make([]segment, 0, 4)
}

func (a *segArrays) put(s []segment) {
	if len(a.free) < maxSpareSegArrays && cap(s) <= 4*maxIovecs {
		clear(s[:cap(s)])
		a.free = append(a.free, s[:0])
	}
}

// push copies b to the end of the queue.
func (q *writeQueue) push(sh *shared, b []byte) {
	q.size.Add(int32(len(b)))
	if n := len(q.segs); n > int(q.head) {
		tail := &q.segs[n-1]
		room := len(tail.chunk) - int(tail.end)
		if room > 0 {
			k := copy(tail.chunk[tail.end:], b)
			tail.end += int32(k)
			b = b[k:]
		}
	}
	if len(b) > 0 && q.segs == nil {
		q.segs = sh.segs.get()
	}
	for len(b) > 0 {
		c, class := sh.chunks.get(len(b))
		k := copy(c, b)
		q.segs = append(q.segs, segment{chunk: c, class: class, end: int32(k)})
		b = b[k:]
	}
}

// consume drops the first n sent bytes, returning emptied chunks, and the
// segment array once the queue is empty.
func (q *writeQueue) consume(sh *shared, n int) {
	q.size.Add(-int32(n))
	for n > 0 && int(q.head) < len(q.segs) {
		s := &q.segs[q.head]
		left := int(s.end - s.start)
		if n < left {
			s.start += int32(n)
			return
		}
		n -= left
		sh.chunks.put(s.chunk, s.class)
		*s = segment{}
		q.head++
	}
	if int(q.head) == len(q.segs) && q.segs != nil {
		sh.segs.put(q.segs)
		q.segs = nil
		q.head = 0
	}
}

// pending returns the unsent segments, at most max.
func (q *writeQueue) pending(max int) []segment {
	end := min(len(q.segs), int(q.head)+max)
	return q.segs[q.head:end]
}

// len is how many bytes are queued.
func (q *writeQueue) len() int { return int(q.size.Load()) }

// reset drops everything queued (an abort), returning the chunks.
func (q *writeQueue) reset(sh *shared) {
	for i := int(q.head); i < len(q.segs); i++ {
		sh.chunks.put(q.segs[i].chunk, q.segs[i].class)
	}
	if q.segs != nil {
		sh.segs.put(q.segs)
	}
	q.segs = nil
	q.head = 0
	q.size.Store(0)
}

// drop forgets everything queued without reusing its memory: the kernel may
// still be reading the chunks of a send in flight.
func (q *writeQueue) drop() {
	q.segs = nil
	q.head = 0
	q.size.Store(0)
}
