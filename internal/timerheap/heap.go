// Package timerheap is the deadline heap of cport's timers: the loop's
// CallLater timers and the timeout operations of the port backends that
// time operations themselves (epoll, IOCP; io_uring's kernel keeps its
// own).
//
// Timers are named by small integer ids that their owner chooses (a
// record's index, an operation's slot) and the heap remembers where each
// id sits, so removing one is O(log n) without a search and without a
// callback per move. It is a 4-ary heap: shallower than a binary one, and
// a node's four children share a cache line, which pays on sift-down.
// Equal deadlines come out in the order they went in.
package timerheap

// Heap is a min-heap of deadlines. The zero Heap is empty and ready. It
// is not safe for concurrent use.
type Heap struct {
	entries []Entry
	pos     []int32 // by id: the id's index in entries, or -1
	seq     uint32  // pushes so far, wrapping
}

// Entry is one armed timer. Seq numbers the pushes: among equal deadlines
// the lower Seq (in wrapping order) comes first.
type Entry struct {
	When int64
	ID   uint32
	Seq  uint32
}

const arity = 4

// Len is the number of timers in the heap.
func (h *Heap) Len() int { return len(h.entries) }

// Seq is the Seq the last push was given.
func (h *Heap) Seq() uint32 { return h.seq }

// Top is the timer with the earliest deadline.
func (h *Heap) Top() (Entry, bool) {
	if len(h.entries) == 0 {
		return Entry{}, false
	}
	return h.entries[0], true
}

// Contains reports whether id is in the heap.
func (h *Heap) Contains(id uint32) bool {
	return id < uint32(len(h.pos)) && h.pos[id] >= 0
}

// Push adds timer id, due at when. An id already in the heap moves to the
// new deadline, behind the timers already there that share it.
func (h *Heap) Push(id uint32, when int64) {
	if id >= uint32(len(h.pos)) {
		h.grow(id)
	} else if h.pos[id] >= 0 {
		h.removeAt(int(h.pos[id]))
	}
	h.seq++
	h.entries = append(h.entries, Entry{When: when, ID: id, Seq: h.seq})
	h.up(len(h.entries) - 1)
}

// grow makes room for positions up to id.
func (h *Heap) grow(id uint32) {
	for uint32(len(h.pos)) <= id {
		h.pos = append(h.pos, -1)
	}
}

// Remove takes timer id out of the heap and reports whether it was there.
func (h *Heap) Remove(id uint32) bool {
	if id >= uint32(len(h.pos)) || h.pos[id] < 0 {
		return false
	}
	h.removeAt(int(h.pos[id]))
	return true
}

// Pop takes the timer with the earliest deadline out of the heap.
func (h *Heap) Pop() (Entry, bool) {
	n := len(h.entries)
	if n == 0 {
		return Entry{}, false
	}
	top := h.entries[0]
	h.pos[top.ID] = -1
	last := h.entries[n-1]
	h.entries = h.entries[:n-1]
	if n > 1 {
		// The last entry goes to the root and can only sink.
		h.entries[0] = last
		h.down(0)
	}
	return top, true
}

// removeAt takes out the entry at i by moving the last entry into its
// place.
func (h *Heap) removeAt(i int) {
	h.pos[h.entries[i].ID] = -1
	last := len(h.entries) - 1
	if i != last {
		e := h.entries[last]
		h.entries[i] = e
		h.pos[e.ID] = int32(i)
	}
	h.entries = h.entries[:last]
	if i < last && !h.up(i) {
		h.down(i)
	}
}

// Reset empties the heap and lets go of its memory.
func (h *Heap) Reset() { *h = Heap{} }

func (e Entry) before(o Entry) bool {
	// Sequence numbers wrap; the difference stays right while the armed
	// timers span fewer than 2^31 pushes.
	return e.When < o.When || e.When == o.When && int32(e.Seq-o.Seq) < 0
}

// up moves the entry at i toward the root and reports whether it moved.
func (h *Heap) up(i int) bool {
	es := h.entries
	e := es[i]
	start := i
	for i > 0 {
		p := (i - 1) / arity
		if !e.before(es[p]) {
			break
		}
		es[i] = es[p]
		h.pos[es[i].ID] = int32(i)
		i = p
	}
	es[i] = e
	h.pos[e.ID] = int32(i)
	return i != start
}

func (h *Heap) down(i int) {
	es := h.entries
	n := len(es)
	e := es[i]
	for {
		first := arity*i + 1
		if first >= n {
			break
		}
		m := first
		for c := first + 1; c < first+arity && c < n; c++ {
			if es[c].before(es[m]) {
				m = c
			}
		}
		if !es[m].before(e) {
			break
		}
		es[i] = es[m]
		h.pos[es[i].ID] = int32(i)
		i = m
	}
	es[i] = e
	h.pos[e.ID] = int32(i)
}
