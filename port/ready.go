package port

// The bookkeeping of the backends that perform operations themselves
// (epoll, IOCP): the completions they produced and have yet to hand out,
// and which provided buffers are free. io_uring's kernel keeps both.

// readyQueue holds completions for the next wait, in order.
type readyQueue struct {
	items []Completion
	head  int
}

func (q *readyQueue) push(c Completion) { q.items = append(q.items, c) }

// len counts completions not yet handed out.
func (q *readyQueue) len() int { return len(q.items) - q.head }

// fill copies completions into out and keeps the rest for the next wait.
func (q *readyQueue) fill(out []Completion) int {
	n := copy(out, q.items[q.head:])
	q.head += n
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head > len(q.items)/2:
		// Slide the rest down so the slice does not creep forward forever.
		m := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:m], 0
	}
	return n
}

// freeBuffers is the stack of provided-buffer IDs not handed out.
type freeBuffers struct {
	ids    []uint16
	isFree []bool // by ID, so a buffer recycled twice is not stacked twice
}

// newFreeBuffers has every ID of a pool of n free; they are handed out
// from 0 up.
func newFreeBuffers(n int) freeBuffers {
	f := freeBuffers{ids: make([]uint16, n), isFree: make([]bool, n)}
	for i := range f.ids {
		f.ids[i] = uint16(n - 1 - i)
		f.isFree[i] = true
	}
	return f
}

// take pops a free ID.
func (f *freeBuffers) take() (uint16, bool) {
	if len(f.ids) == 0 {
		return 0, false
	}
	bid := f.ids[len(f.ids)-1]
	f.ids = f.ids[:len(f.ids)-1]
	f.isFree[bid] = false
	return bid, true
}

// put returns bid; an ID not of this pool, or already free, is ignored.
func (f *freeBuffers) put(bid uint16) {
	if int(bid) >= len(f.isFree) || f.isFree[bid] {
		return
	}
	f.isFree[bid] = true
	f.ids = append(f.ids, bid)
}
