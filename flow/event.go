package flow

import "context"

// Event is a flag flows wait for: Wait parks until Set. It stays set until
// Clear. The zero value is clear. Set may be called from flows or
// callbacks of the event's loop.
type Event struct {
	h       home
	set     bool
	waiters waitq
}

// Wait parks the flow until e is set; at once if it is.
func (e *Event) Wait(ctx context.Context) error {
	f, err := e.h.enter(ctx)
	if err != nil {
		return err
	}
	if e.set {
		return nil
	}
	return f.park(ctx, &e.waiters, cancellable)
}

// Set sets e and wakes every waiter.
func (e *Event) Set() {
	e.h.onLoop()
	e.set = true
	e.waiters.wakeAll(nil)
}

// Clear clears e.
func (e *Event) Clear() {
	e.h.onLoop()
	e.set = false
}

// IsSet reports whether e is set.
func (e *Event) IsSet() bool { return e.set }
