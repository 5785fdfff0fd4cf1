package flow

import "context"

// Mutex is a lock for the flows of one loop: Lock parks the flow while
// another holds it, and Unlock hands it to the longest waiter directly, so
// no flow can barge in between. The zero value is unlocked. A Mutex is
// only needed around code that blocks while shared state is inconsistent;
// code that does not block needs none (NoSwitch asserts that).
type Mutex struct {
	h       home
	locked  bool
	waiters waitq
}

// Lock locks m, parking the flow until it can; it fails with ctx's error
// or context.Canceled without taking the lock.
func (m *Mutex) Lock(ctx context.Context) error {
	f, err := m.h.enter(ctx)
	if err != nil {
		return err
	}
	return m.lock(f, ctx, cancellable)
}

// lock takes m for f, which has made its checks.
func (m *Mutex) lock(f *Flow, ctx context.Context, mode parkMode) error {
	if !m.locked {
		m.locked = true
		return nil
	}
	// Unlock hands the lock over before waking us: on success we hold it.
	return f.park(ctx, &m.waiters, mode)
}

// TryLock locks m if it is free and reports whether it did.
func (m *Mutex) TryLock() bool {
	m.h.onLoop()
	if m.locked {
		return false
	}
	m.locked = true
	return true
}

// Unlock unlocks m, handing it to the first waiter if any. Like
// sync.Mutex, any flow of the loop may unlock it.
func (m *Mutex) Unlock() {
	m.h.onLoop()
	if !m.locked {
		panic("flow: Unlock of unlocked Mutex")
	}
	if w := m.waiters.head; w != nil {
		w.wake(nil) // stays locked: it is now w's
		return
	}
	m.locked = false
}
