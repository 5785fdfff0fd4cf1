package flow

import (
	"context"
	"errors"
)

// ErrQueueClosed is returned by Put on a closed queue, and by Get on a
// closed queue once it is empty.
var ErrQueueClosed = errors.New("flow: queue closed")

// Queue is a bounded FIFO between the flows of one loop: Put parks while
// it is full, Get while it is empty. A woken flow is promised its item (or
// its slot), so a flow that did not wait cannot take it first; the items
// stay in the ring, so handing over allocates nothing.
type Queue[T any] struct {
	h          home
	ring       []T
	head, n    int
	getters    waitq
	putters    waitq
	forGetters int // items promised to woken getters
	forPutters int // slots promised to woken putters
	closed     bool
}

// NewQueue returns a queue that holds up to size items (at least 1).
func NewQueue[T any](size int) *Queue[T] {
	return &Queue[T]{ring: make([]T, max(size, 1))}
}

// Put adds v, parking the flow while the queue is full.
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	f, err := q.h.enter(ctx)
	if err != nil {
		return err
	}
	if q.closed {
		return ErrQueueClosed
	}
	if q.n+q.forPutters >= len(q.ring) {
		if err := f.park(ctx, &q.putters, cancellable); err != nil {
			return err
		}
		q.forPutters--
	}
	q.push(v)
	return nil
}

// TryPut adds v if there is room and reports whether it did.
func (q *Queue[T]) TryPut(v T) bool {
	q.h.onLoop()
	if q.closed || q.n+q.forPutters >= len(q.ring) {
		return false
	}
	q.push(v)
	return true
}

func (q *Queue[T]) push(v T) {
	q.ring[(q.head+q.n)%len(q.ring)] = v
	q.n++
	if w := q.getters.head; w != nil {
		q.forGetters++
		w.wake(nil)
	}
}

// Get removes the oldest item, parking the flow while the queue is empty.
func (q *Queue[T]) Get(ctx context.Context) (T, error) {
	var zero T
	f, err := q.h.enter(ctx)
	if err != nil {
		return zero, err
	}
	if q.n-q.forGetters > 0 {
		return q.pop(), nil
	}
	if q.closed {
		return zero, ErrQueueClosed
	}
	if err := f.park(ctx, &q.getters, cancellable); err != nil {
		return zero, err
	}
	q.forGetters--
	return q.pop(), nil
}

// TryGet removes the oldest item if one is free to take.
func (q *Queue[T]) TryGet() (T, bool) {
	q.h.onLoop()
	if q.n-q.forGetters <= 0 {
		var zero T
		return zero, false
	}
	return q.pop(), true
}

func (q *Queue[T]) pop() T {
	var zero T
	v := q.ring[q.head]
	q.ring[q.head] = zero
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	if w := q.putters.head; w != nil {
		q.forPutters++
		w.wake(nil)
	}
	if q.closed && q.n-q.forGetters == 0 {
		q.getters.wakeAll(ErrQueueClosed)
	}
	return v
}

// Len is how many items are queued.
func (q *Queue[T]) Len() int { return q.n }

// Close refuses further Puts and wakes the parked ones with
// ErrQueueClosed; Gets drain what is queued, then fail with it.
func (q *Queue[T]) Close() {
	q.h.onLoop()
	q.closed = true
	q.putters.wakeAll(ErrQueueClosed)
	if q.n-q.forGetters == 0 {
		q.getters.wakeAll(ErrQueueClosed)
	}
}
