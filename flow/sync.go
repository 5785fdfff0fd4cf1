package flow

import (
	"context"
	"errors"
)

// The primitives in this package (Mutex, Event, Cond, Semaphore, Queue,
// WaitGroup, Group) coordinate the flows of one loop. They take no lock:
// only one flow of a loop runs at a time, and a flow switches only where
// it blocks, so their state is never touched concurrently. They are not
// for use across loops nor from plain goroutines: their blocking methods
// return ErrNotInFlow there, and the others panic when called off the
// loop (checked: one goroutine-identity compare). Their blocking methods
// take the context of the calling flow (Flow.Context, or one derived from
// it with a deadline): it names the flow to park, and its deadline and
// cancellation end the wait.

// errWrongLoop is the panic of a primitive used from a second loop.
var errWrongLoop = errors.New("flow: synchronization primitive used off its loop")

// home binds a primitive to the loop of its first user.
type home struct{ s *sched }

// enter returns the calling flow and checks it is on the primitive's
// loop; the first caller binds it.
func (h *home) enter(ctx context.Context) (*Flow, error) {
	f := fromContext(ctx)
	if f == nil || !f.l.InLoop() || f.s.current != f {
		return nil, ErrNotInFlow
	}
	if h.s == nil {
		h.s = f.s
	} else if h.s != f.s {
		panic(errWrongLoop)
	}
	return f, nil
}

// onLoop checks a non-blocking method runs on the primitive's loop: in a
// flow or a callback there.
func (h *home) onLoop() {
	if h.s != nil && !h.s.l.InLoop() {
		panic(errWrongLoop)
	}
}

// wait queues f on q and parks it; on an error it is off the queue.
func (f *Flow) waitOn(ctx context.Context, q *waitq, cancellable bool) error {
	if err := f.check(ctx, cancellable); err != nil {
		return err
	}
	f.w.reset()
	q.push(&f.w)
	return f.park(ctx, cancellable)
}
