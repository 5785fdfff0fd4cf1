package flow

import (
	"context"
	"time"

	"github.com/cport/cport/loop"
)

// Sleep pauses for d. In a flow (ctx is the flow's context or derived from
// it) it parks on a loop timer and the loop runs other flows meanwhile;
// from a goroutine it blocks that goroutine. It returns early with ctx's
// error, or context.Canceled once the flow is cancelled. A d of zero or
// less still switches: other ready flows run before Sleep returns.
func Sleep(ctx context.Context, d time.Duration) error {
	f := caller(ctx, nil)
	if f == nil {
		return sleepBlocking(ctx, d)
	}
	return f.sleep(ctx, d)
}

// Sleep is flow.Sleep with the flow's own cancellation and no deadline.
func (f *Flow) Sleep(d time.Duration) error { return f.sleep(noCtx, d) }

func (f *Flow) sleep(ctx context.Context, d time.Duration) error {
	if err := f.check(ctx, true); err != nil {
		return err
	}
	when := f.l.Now().Add(max(d, 0))
	f.sleeping = true
	if ctx != nil {
		if dl, ok := ctx.Deadline(); ok && dl.Before(when) {
			when, f.sleeping = dl, false
		}
	}
	f.w.reset()
	if f.timer = f.l.CallAt(when, f.onTimeoutFn()); f.timer == 0 {
		f.sleeping = false
		return loop.ErrClosed
	}
	return f.park(ctx, nil, cancellable)
}

func sleepBlocking(ctx context.Context, d time.Duration) error {
	if ctx == nil {
		time.Sleep(d)
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Yield lets the flows that are ready now run before f continues, and the
// loop too when a pass's budget is spent: a flow that computes for long
// without blocking calls it now and then so the others are not starved
// (gevent's sleep(0)). With nothing else ready it returns at once. Only f
// itself may call it; it fails with context.Canceled if f is cancelled,
// and is not interrupted by a later Cancel.
//
// It is park's scheduling without a waiter: f queues itself behind the
// ready flows and, if the loop resumed it, drives them until its turn.
func (f *Flow) Yield() error {
	s := f.s
	if !f.l.InLoop() || s.current != f { // InLoop first: off the loop, s is not ours to read
		return ErrNotInFlow
	}
	if f.noSwitch > 0 || f.cancelled.Load() {
		return f.check(noCtx, true)
	}
	s.ready(f)
	if s.driver == nil {
		s.driver = f
		for g := s.pick(); g != nil; g = s.pick() {
			if g == f {
				s.driver = nil
				return nil
			}
			s.current = g
			g.next()
			s.current = f
		}
		s.driver = nil
	}
	// Driven by another flow, or the pass's budget is spent: f waits in
	// the queue, and whoever resumes it there marks it running.
	f.yield(struct{}{})
	return nil
}
