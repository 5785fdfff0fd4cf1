package loop

import (
	"math"
	"time"

	"github.com/cport/cport/internal/timerheap"
)

// Timer names an armed timer: its record's index in the low 32 bits and the
// record's generation in the high 32. The generation moves on when the timer
// fires or is cancelled, so a Timer kept past that cancels nothing. The zero
// Timer is never armed.
type Timer uint64

func makeTimer(index, gen uint32) Timer { return Timer(uint64(gen)<<32 | uint64(index)) }

// timerQueue is the shared deadline heap (internal/timerheap) over a
// slab of records: the heap orders record ids, the records hold the
// functions. An armed timer costs one heap entry (16 bytes), its heap
// position (4) and one record (16): TestTimerMemory measures the total
// with append's slack.
type timerQueue struct {
	heap timerheap.Heap
	recs []timerRecord
	free int32 // first free record, or -1
}

// timerRecord holds what the heap entry does not: the function, the
// generation that Timer values are checked against and, for a free
// record, the next free one.
type timerRecord struct {
	fn   func()
	gen  uint32
	next int32
}

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
	tq.heap.Remove(idx)
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
	tq.heap.Push(id, when)
	return makeTimer(id, r.gen)
}

// runTimers fires every timer due by now, earliest first. A timer armed
// during this pass waits for the next iteration even if already due, so a
// timer that re-arms itself with no delay cannot hold the loop here.
func (l *Loop) runTimers() {
	l.tick() // every iteration, even without timers: CallLater reads it
	pass := l.timers.heap.Seq()
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
	for {
		top, ok := tq.heap.Top()
		if !ok || top.When > l.now || int32(top.Seq-pass) > 0 {
			break
		}
		tq.heap.Pop()
		fn := tq.recs[top.ID].fn
		tq.release(top.ID) // before the call, so fn may re-arm in its place
		l.invoke(kindTimer, fn)
	}
	return true
}

// next is the earliest deadline, if any timer is armed.
func (tq *timerQueue) next() (int64, bool) {
	top, ok := tq.heap.Top()
	return top.When, ok
}

func (tq *timerQueue) alloc() uint32 {
	if len(tq.recs) == 0 {
		tq.free = -1
	}
	if tq.free >= 0 {
		id := uint32(tq.free)
		tq.free = tq.recs[id].next
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
	r.next = tq.free
	tq.free = int32(id)
}

// reset drops every timer; Close does not fire them.
func (tq *timerQueue) reset() {
	*tq = timerQueue{}
}
