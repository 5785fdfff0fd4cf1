package port

// The bookkeeping of the backends that perform operations themselves
// (epoll, IOCP): the completions they produced and have yet to hand out,
// and which provided buffers are free. io_uring's kernel keeps both.

// readyQueueKeep is the most completions' room an empty ready queue
// keeps: a burst's larger array goes back to the collector.
const readyQueueKeep = 1024

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
	case q.head == len(q.items) && cap(q.items) > readyQueueKeep:
		q.items, q.head = nil, 0 // a burst grew it: let it go
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
	fewest int    // the fewest IDs free at once since the last trim
	trimAt int64  // when the pool was last trimmed, on the backend's clock
}

// A pool whose buffers are all free again after a burst lent more than
// buffersKeptResident at once gives the memory of the others back to the
// system (trimIfIdle), at most once per bufferTrimEvery: a burst of
// connections that all read at once then costs the loop no resident
// memory once it is over, and a steady load pays a fault per page per
// interval at most.
const buffersKeptResident = 32

// bufferTrimEvery is in nanoseconds; a variable for the port's tests.
var bufferTrimEvery = int64(1e9)

// newFreeBuffers has every ID of a pool of n free; they are handed out
// from 0 up.
func newFreeBuffers(n int) freeBuffers {
	f := freeBuffers{ids: make([]uint16, n), isFree: make([]bool, n), trimAt: -bufferTrimEvery}
	f.reset()
	return f
}

// reset stacks every ID, 0 on top.
func (f *freeBuffers) reset() {
	n := len(f.isFree)
	f.ids = f.ids[:n]
	for i := range f.ids {
		f.ids[i] = uint16(n - 1 - i)
		f.isFree[i] = true
	}
	f.fewest = n
}

// take pops a free ID.
func (f *freeBuffers) take() (uint16, bool) {
	if len(f.ids) == 0 {
		return 0, false
	}
	bid := f.ids[len(f.ids)-1]
	f.ids = f.ids[:len(f.ids)-1]
	f.isFree[bid] = false
	f.fewest = min(f.fewest, len(f.ids))
	return bid, true
}

// trimIfIdle reports, when every buffer is free and more than
// buffersKeptResident were lent at once since the last trim (at least
// bufferTrimEvery ago), the first ID whose memory may be given back; it
// restacks the IDs so that those below it are handed out first. When a
// trim is wanted but the last was too recent, it reports when it may run
// (retryAt, else 0): a backend about to sleep wakes then, or the memory
// of a burst that ended within the interval would stay resident for as
// long as the loop is idle.
func (f *freeBuffers) trimIfIdle(now int64) (from int, ok bool, retryAt int64) {
	n := len(f.isFree)
	if len(f.ids) != n || n-f.fewest <= buffersKeptResident {
		return 0, false, 0
	}
	if now-f.trimAt < bufferTrimEvery {
		return 0, false, f.trimAt + bufferTrimEvery
	}
	f.reset()
	f.trimAt = now
	return buffersKeptResident, true, 0
}

// put returns bid; an ID not of this pool, or already free, is ignored.
func (f *freeBuffers) put(bid uint16) {
	if int(bid) >= len(f.isFree) || f.isFree[bid] {
		return
	}
	f.isFree[bid] = true
	f.ids = append(f.ids, bid)
}
