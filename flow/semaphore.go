package flow

import "context"

// Semaphore limits how many flows of one loop hold a permit at once.
// Release hands a permit straight to the longest waiter.
type Semaphore struct {
	h       home
	free    int
	waiters waitq
}

// NewSemaphore returns a semaphore with n permits.
func NewSemaphore(n int) *Semaphore { return &Semaphore{free: n} }

// Acquire takes a permit, parking the flow until one is free.
func (s *Semaphore) Acquire(ctx context.Context) error {
	f, err := s.h.enter(ctx)
	if err != nil {
		return err
	}
	if s.free > 0 {
		s.free--
		return nil
	}
	return f.park(ctx, &s.waiters, cancellable)
}

// TryAcquire takes a permit if one is free.
func (s *Semaphore) TryAcquire() bool {
	s.h.onLoop()
	if s.free == 0 {
		return false
	}
	s.free--
	return true
}

// Release returns a permit.
func (s *Semaphore) Release() {
	s.h.onLoop()
	if w := s.waiters.head; w != nil {
		w.wake(nil) // the permit passes to w
		return
	}
	s.free++
}

// Free is how many permits are free.
func (s *Semaphore) Free() int { return s.free }
