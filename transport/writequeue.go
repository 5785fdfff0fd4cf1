package transport

import "github.com/cport/cport/port"

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
// loop; only the connection's callbacks change it. The segments hang off
// one pointer, nil while nothing is queued, rather than a slice header
// in the queue: every connection embeds a queue and most have nothing
// queued, so 16 bytes fewer here are 16 bytes fewer per connection. How
// many bytes are queued is the connection's to count (conn.queued), in
// the word beside the flags other goroutines read, as WriteBufferSize
// reads the count.
type writeQueue struct {
	segs *segList
}

// segList is a queue's segments, in order; s[head:] are unsent. What
// exists only while something is queued lives here rather than in every
// connection: the index of the first unsent segment, and the message of
// a vectored send in flight.
type segList struct {
	s    []segment
	head int32
	msg  *port.Msg
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
	free [len(chunkClasses)]freeList[[]byte]
}

func (p *chunkPool) get(need int) ([]byte, int8) {
	class := len(chunkClasses) - 1
	for i, size := range chunkClasses {
		if need <= size {
			class = i
			break
		}
	}
	if c, ok := p.free[class].pop(); ok {
		return c, int8(class)
	}
	return make([]byte, chunkClasses[class]), int8(class)
}

func (p *chunkPool) put(c []byte, class int8) {
	if len(p.free[class].items) < maxFreeChunks[class] {
		p.free[class].push(c[:cap(c)])
	}
}

// segArrays are spare segment lists: a connection takes one when it
// queues a write and gives it back when its queue drains, so an idle
// connection holds none and a busy one allocates none.
type segArrays struct {
	free freeList[*segList]
}

const maxSpareSegArrays = 4096

func (a *segArrays) get() *segList {
	if l, ok := a.free.pop(); ok {
		return l
	}
	return &segList{s: make([]segment, 0, 4)}
}

func (a *segArrays) put(l *segList) {
	if len(a.free.items) < maxSpareSegArrays && cap(l.s) <= 4*maxIovecs {
		clear(l.s[:cap(l.s)])
		l.s, l.head, l.msg = l.s[:0], 0, nil
		a.free.push(l)
	}
}

// push copies b to the end of the queue.
func (q *writeQueue) push(sh *shared, b []byte) {
	if len(b) == 0 {
		return // no segment list for nothing
	}
	if q.segs == nil {
		q.segs = sh.segs.get()
	} else if n := len(q.segs.s); n > int(q.segs.head) {
		tail := &q.segs.s[n-1]
		room := len(tail.chunk) - int(tail.end)
		if room > 0 {
			k := copy(tail.chunk[tail.end:], b)
			tail.end += int32(k)
			b = b[k:]
		}
	}
	for len(b) > 0 {
		c, class := sh.chunks.get(len(b))
		k := copy(c, b)
		q.segs.s = append(q.segs.s, segment{chunk: c, class: class, end: int32(k)})
		b = b[k:]
	}
}

// consume drops the first n sent bytes, returning emptied chunks, and the
// segment list once the queue is empty.
func (q *writeQueue) consume(sh *shared, n int) {
	if q.segs == nil {
		return
	}
	l := q.segs
	for n > 0 && int(l.head) < len(l.s) {
		s := &l.s[l.head]
		left := int(s.end - s.start)
		if n < left {
			s.start += int32(n)
			return
		}
		n -= left
		sh.chunks.put(s.chunk, s.class)
		sh.spare()
		*s = segment{}
		l.head++
	}
	q.release(sh)
}

// release gives the segment list back once nothing is queued in it.
func (q *writeQueue) release(sh *shared) {
	if q.segs != nil && int(q.segs.head) == len(q.segs.s) {
		sh.segs.put(q.segs)
		sh.spare()
		q.segs = nil
	}
}

// pending returns the unsent segments, at most max.
func (q *writeQueue) pending(max int) []segment {
	if q.segs == nil {
		return nil
	}
	end := min(len(q.segs.s), int(q.segs.head)+max)
	return q.segs.s[q.segs.head:end]
}

// sendingMsg records m as the message of the vectored send of pending's
// segments now in flight.
func (q *writeQueue) sendingMsg(m *port.Msg) { q.segs.msg = m }

// takeMsg returns the message of the vectored send that ended, if one was
// in flight, and forgets it. After drop there is none to take: the
// abandoned list keeps it, and the collector has both once the kernel's
// completion has come.
func (q *writeQueue) takeMsg() *port.Msg {
	if q.segs == nil {
		return nil
	}
	m := q.segs.msg
	q.segs.msg = nil
	return m
}

// reset drops everything queued (an abort), returning the chunks.
func (q *writeQueue) reset(sh *shared) {
	if q.segs != nil {
		for i := int(q.segs.head); i < len(q.segs.s); i++ {
			sh.chunks.put(q.segs.s[i].chunk, q.segs.s[i].class)
		}
		sh.segs.put(q.segs)
		sh.spare()
	}
	q.segs = nil
}

// drop forgets everything queued without reusing its memory: the kernel may
// still be reading the chunks of a send in flight.
func (q *writeQueue) drop() {
	q.segs = nil
}
