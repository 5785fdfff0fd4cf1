package loop

import (
	"math"
	"time"
)

// Timer names an armed timer: its record's index in the low 32 bits and the
// record's generation in the high 32. The generation moves on when the timer
// fires or is cancelled, so a Timer kept past that cancels nothing. The zero
// Timer is never armed.
type Timer uint64

func makeTimer(index, gen uint32) Timer { return Timer(uint64(gen)<<32 | uint64(index)) }

// timerQueue is a 4-ary min-heap of deadlines over a slab of records. An
// armed timer costs one heap entry (16 bytes) and one record (16 bytes):
// TestTimerMemory measures 34 bytes with append's slack, a million timers
// in 34 MB. A 4-ary heap is shallower than a binary one
// and its four children share a cache line, which pays on sift-down.
type timerQueue struct {
	heap []timerEntry
	recs []timerRecord
	free int32  // first free record, or -1
	seq  uint32 // arming counter: equal deadlines fire in arming order
}

// timerEntry orders the heap. seq breaks ties between equal deadlines; it
// fills what would otherwise be padding after id.
type timerEntry struct {
	when int64 // nanoseconds of loop time
	id   uint32
	seq  uint32
}

// timerRecord holds what the heap entry does not: the function, the
// generation that Timer values are checked against, and where the entry
// sits in the heap (or, for a free record, the next free one).
type timerRecord struct {
	fn  func()
	gen uint32
	pos int32
}

const heapArity = 4

// maxWhen keeps deadlines far from overflow when durations are added.
const maxWhen = math.MaxInt64 / 2

// CallLater runs fn once d has passed (loop only). Timers with equal
// deadlines run in the order they were armed. On a closed loop it returns
// the zero Timer and fn never runs.
func (l *Loop) CallLater(d time.Duration, fn func()) Timer {
	return l.arm(l.now+int64(min(max(d, 0), maxWhen)), fn)
}

// CallAt runs fn at t (loop only); a t in the past runs it on the next
// iteration.
func (l *Loop) CallAt(t time.Time, fn func()) Timer {
	return l.arm(int64(min(t.Sub(l.base), maxWhen)), fn)
}

// CancelTimer disarms t (loop only). It reports whether t was armed: false
// for a timer that already fired, was cancelled, or is zero.
func (l *Loop) CancelTimer(t Timer) bool {
	tq := &l.timers
	idx, gen := uint32(t), uint32(t>>32)
	if idx >= uint32(len(tq.recs)) || tq.recs[idx].gen != gen || gen == 0 {
		return false
	}
	tq.remove(int(tq.recs[idx].pos))
	tq.release(idx)
	return true
}

func (l *Loop) arm(when int64, fn func()) Timer {
	if l.closing.Load() {
		return 0
	}
	tq := &l.timers
	id := tq.alloc()
	r := &tq.recs[id]
	r.fn = fn
	tq.seq++
	tq.push(timerEntry{when: when, id: id, seq: tq.seq})
	return makeTimer(id, r.gen)
}

// runTimers fires every timer due by now, earliest first. A timer armed
// during this pass waits for the next iteration even if already due, so a
// timer that re-arms itself with no delay cannot hold the loop here.
func (l *Loop) runTimers() {
	l.tick() // every iteration, even without timers: CallLater reads it
	pass := l.timers.seq
	for !l.fireTimers(pass) {
	}
}

// fireTimers fires due timers until none is left, and reports false if it
// stopped early because one panicked (see runFuncs).
func (l *Loop) fireTimers(pass uint32) (done bool) {
	defer func() {
		if v := recover(); v != nil {
			l.panicked(v)
		}
	}()
	tq := &l.timers
	for len(tq.heap) > 0 {
		top := tq.heap[0]
		if top.when > l.now || int32(top.seq-pass) > 0 {
			break
		}
		tq.remove(0)
		fn := tq.recs[top.id].fn
		tq.release(top.id) // before the call, so fn may re-arm in its place
		l.invoke(kindTimer, fn)
	}
	return true
}

// next is the earliest deadline, if any timer is armed.
func (tq *timerQueue) next() (int64, bool) {
	if len(tq.heap) == 0 {
		return 0, false
	}
	return tq.heap[0].when, true
}

func (tq *timerQueue) alloc() uint32 {
	if len(tq.recs) == 0 {
		tq.free = -1
	}
	if tq.free >= 0 {
		id := uint32(tq.free)
		tq.free = tq.recs[id].pos
		return id
	}
	tq.recs = append(tq.recs, timerRecord{gen: 1})
	return uint32(len(tq.recs) - 1)
}

// release retires a fired or cancelled record: a new generation makes
// every Timer naming the old one stale.
func (tq *timerQueue) release(id uint32) {
	r := &tq.recs[id]
	r.fn = nil
	r.gen++
	if r.gen == 0 {
		r.gen = 1 // the zero Timer must stay unarmed
	}
	r.pos = tq.free
	tq.free = int32(id)
}

// reset drops every timer; Close does not fire them.
func (tq *timerQueue) reset() {
	*tq = timerQueue{}
}

func (tq *timerQueue) push(e timerEntry) {
	tq.heap = append(tq.heap, e)
	tq.up(len(tq.heap) - 1)
}

// remove takes out the entry at i by moving the last entry into its place.
func (tq *timerQueue) remove(i int) {
	last := len(tq.heap) - 1
	if i != last {
		tq.heap[i] = tq.heap[last]
		tq.recs[tq.heap[i].id].pos = int32(i)
	}
	tq.heap = tq.heap[:last]
	if i < last && !tq.up(i) {
		tq.down(i)
	}
}

func (e timerEntry) before(o timerEntry) bool {
	// Sequence numbers wrap; the difference stays right while the armed
	// timers span fewer than 2^31 armings.
	return e.when < o.when || e.when == o.when && int32(e.seq-o.seq) < 0
}

// up moves the entry at i toward the root and reports whether it moved.
func (tq *timerQueue) up(i int) bool {
	h := tq.heap
	e := h[i]
	start := i
	for i > 0 {
		p := (i - 1) / heapArity
		if !e.before(h[p]) {
			break
		}
		h[i] = h[p]
		tq.recs[h[i].id].pos = int32(i)
		i = p
	}
	h[i] = e
	tq.recs[e.id].pos = int32(i)
	return i != start
}

func (tq *timerQueue) down(i int) {
	h := tq.heap
	n := len(h)
	e := h[i]
	for {
		first := heapArity*i + 1
		if first >= n {
			break
		}
		m := first
		for c := first + 1; c < first+heapArity && c < n; c++ {
			if h[c].before(h[m]) {
				m = c
			}
		}
		if !h[m].before(e) {
			break
		}
		h[i] = h[m]
		tq.recs[h[i].id].pos = int32(i)
		i = m
	}
	h[i] = e
	tq.recs[e.id].pos = int32(i)
}
