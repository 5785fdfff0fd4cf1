package flow

import "context"

// WaitGroup waits for a count of tasks on one loop to reach zero.
type WaitGroup struct {
	h       home
	n       int
	waiters waitq
}

// Add adds delta to the count; at zero the waiters wake.
func (wg *WaitGroup) Add(delta int) {
	wg.h.onLoop()
	wg.n += delta
	if wg.n < 0 {
		panic("flow: negative WaitGroup counter")
	}
	if wg.n == 0 {
		wg.waiters.wakeAll(nil)
	}
}

// Done is Add(-1).
func (wg *WaitGroup) Done() { wg.Add(-1) }

// Wait parks the flow until the count is zero.
func (wg *WaitGroup) Wait(ctx context.Context) error {
	f, err := wg.h.enter(ctx)
	if err != nil {
		return err
	}
	if wg.n == 0 {
		return nil
	}
	return f.park(ctx, &wg.waiters, cancellable)
}
