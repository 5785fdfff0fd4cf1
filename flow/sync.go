package flow

import (
	"context"
	"errors"

	"github.com/cport/cport/loop"
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
type home struct{ l *loop.Loop }

// enter begins a blocking method: it returns the calling flow, checks it
// is on the primitive's loop (the first caller binds it), and makes the
// checks every blocking call makes (Flow.check).
func (h *home) enter(ctx context.Context) (*Flow, error) {
	// A flow's own context, the common case, is found without a call.
	var f *Flow
	if c, ok := ctx.(*flowCtx); ok {
		f = c.f
	} else {
		f = fromContext(ctx)
	}
	if f == nil || !f.l.InLoop() || f.s.current != f {
		return nil, ErrNotInFlow
	}
	if h.l != f.l {
		if h.l != nil {
			panic(errWrongLoop)
		}
		h.l = f.l
	}
	if f.noSwitch == 0 && !f.cancelled.Load() && f.ownContext(ctx) {
		return f, nil // what check would find, without the call
	}
	return f, f.check(ctx, true)
}

// onLoop checks a non-blocking method runs on the primitive's loop: in a
// flow or a callback there.
func (h *home) onLoop() {
	if h.l != nil && !h.l.InLoop() {
		panic(errWrongLoop)
	}
}
