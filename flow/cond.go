package flow

import "context"

// Cond is a condition variable for the flows of one loop, over a Mutex.
type Cond struct {
	L       *Mutex
	waiters waitq
}

// NewCond returns a Cond over m.
func NewCond(m *Mutex) *Cond { return &Cond{L: m} }

// Wait unlocks c.L, parks until Signal or Broadcast, and locks c.L again
// before returning, even when ctx ends first (its error is returned then).
func (c *Cond) Wait(ctx context.Context) error {
	f, err := c.L.h.enter(ctx)
	if err != nil {
		return err
	}
	c.L.Unlock()
	err = f.park(ctx, &c.waiters, cancellable)
	// Relocking cannot be cancelled: the caller expects to hold the lock.
	if err := f.check(noCtx, false); err != nil {
		return err
	}
	_ = c.L.lock(f, noCtx, uncancellable)
	return err
}

// Signal wakes the longest waiter, if any.
func (c *Cond) Signal() {
	c.L.h.onLoop()
	if w := c.waiters.head; w != nil {
		w.wake(nil)
	}
}

// Broadcast wakes every waiter.
func (c *Cond) Broadcast() {
	c.L.h.onLoop()
	c.waiters.wakeAll(nil)
}
