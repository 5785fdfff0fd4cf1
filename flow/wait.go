package flow

import (
	"context"
	"net/netip"

	"github.com/cport/cport/loop"
)

// Parking with cancellation: a blocked call parks its flow (or blocks its
// goroutine) on a waiter until woken, and the flow's context, or any
// context given to the call, cuts the wait short. The flow's own context
// carries the flow, which is how a call finds the flow to park.

// waiter is one blocked call: a flow's (every flow has one, since a flow
// blocks on one thing at a time, so parking allocates nothing) or a plain
// goroutine's, which blocks on ch. It sits in the wait list of what it
// waits for, and carries what the waker hands over.
type waiter struct {
	f  *Flow         // the parked flow, or nil for a goroutine
	ch chan struct{} // a goroutine's wake-up, capacity 1

	q          *waitq
	prev, next *waiter

	err  error
	p    []byte         // a Read's or Write's buffer; what a Next returns
	n    int            // bytes moved so far
	from netip.AddrPort // a ReadFrom's sender

	// abortFn takes the waiter off a list that another goroutine may
	// touch, under that list's lock, and reports whether it was still
	// there (if not, its waker has already won).
	abortFn func(*waiter) bool

	borrow bool // a Next: DataReceived keeps the data and wakes it
	done   bool // a goroutine's step finished
	// remote: f is a flow of another loop than the object's, waiting in
	// awaitRemote (owner.go); its wake-up is posted to its loop.
	remote bool
}

func (w *waiter) reset() {
	w.err, w.p, w.n, w.done, w.borrow, w.abortFn = nil, nil, 0, false, false, nil
}

// wake ends w's wait with err: the flow is made ready, the goroutine is
// signalled. It runs on the loop whose object w waits for, and a flow
// waiting there is one of that loop's (other loops' flows block as
// goroutines do), so readying it needs no check; wakeFrom is for wakers
// that may run anywhere.
func (w *waiter) wake(err error) {
	if w.q != nil {
		w.q.remove(w)
	}
	w.err = err
	if f := w.f; f != nil && !w.remote {
		f.readyOnLoop()
		return
	}
	w.notify()
}

// notify tells the goroutine or foreign flow behind w that its wait is
// over.
func (w *waiter) notify() {
	if w.remote {
		_ = w.f.l.Post(w.f.remoteFn) // made before the call was posted
		return
	}
	w.ch <- struct{}{}
}

// wakeFrom is wake from any goroutine: a flow of another loop is readied
// by a post to its loop.
func (w *waiter) wakeFrom(err error) {
	if f := w.f; f != nil && !w.remote && !f.l.InLoop() {
		if w.q != nil {
			w.q.remove(w)
		}
		w.err = err
		_ = f.l.Post(f.readyOnLoop)
		return
	}
	w.wake(err)
}

// waitq is a FIFO of waiters, intrusive so queueing allocates nothing.
type waitq struct {
	head, tail *waiter
	n          int
}

func (q *waitq) push(w *waiter) {
	w.q, w.prev, w.next = q, q.tail, nil
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

func (q *waitq) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.q, w.prev, w.next = nil, nil, nil
	q.n--
}

// wakeAll wakes every waiter with err.
func (q *waitq) wakeAll(err error) {
	for q.head != nil {
		q.head.wake(err)
	}
}

// check is what every blocking call does before it queues a waiter: a
// NoSwitch block must not park, and a cancelled flow or an ended context
// fails at once.
func (f *Flow) check(ctx context.Context, cancellable bool) error {
	if f.noSwitch > 0 {
		panic(errSwitchInNoSwitch)
	}
	if !cancellable {
		return nil
	}
	if f.cancelled.Load() {
		return context.Canceled
	}
	if ctx != nil && !f.ownContext(ctx) {
		return ctx.Err()
	}
	return nil
}

// parkMode says what may end a park besides its waker.
type parkMode uint8

const (
	// uncancellable: only the waker; for waits that must finish, such as
	// retaking a Cond's mutex.
	uncancellable parkMode = iota
	// cancellable: also Cancel and ctx's deadline or cancellation.
	cancellable
)

// park switches away until f.w is woken or the wait is aborted: by
// Cancel, by ctx's deadline (a loop timer), or by ctx's cancellation
// (unless mode is uncancellable). It queues f.w on q first, if q is not
// nil. It returns f.w.err. Call check first.
//
// The frames live across a switch are resumed by returns the CPU cannot
// predict (its return stack belongs to the other coroutine), each several
// nanoseconds a switch, so park makes its switches itself: a blocking
// call is then caller, park, and the coroutine switch.
func (f *Flow) park(ctx context.Context, q *waitq, mode parkMode) error {
	if q != nil {
		f.w.reset()
		q.push(&f.w)
	}
	var stop func() bool
	f.seq++
	// The flow's own context needs no watching: it has no deadline, and
	// Cancel, which cancels it, aborts the park directly.
	if ctx != nil && mode == cancellable && !f.ownContext(ctx) {
		if dl, ok := ctx.Deadline(); ok && f.timer == 0 {
			f.timer = f.l.CallAt(dl, f.onTimeoutFn())
		}
		if ctx.Done() != nil {
			seq := f.seq
			stop = context.AfterFunc(ctx, func() { f.abortFrom(seq, ctx.Err()) })
		}
	}
	f.state = stateParked
	parked := &f.l.Counters().FlowsParked
	parked.Add(1)
	s := f.s
	if s.driver == nil && s.current == f {
		// The loop resumed f: f drives, resuming ready flows itself until
		// it is ready again (see sched). A parked flow is never in the
		// run queue, so pick does not return f.
		s.driver = f
		for f.state == stateParked {
			g := s.pick()
			if g == nil {
				break
			}
			s.current = g
			g.next()
			s.current = f
		}
		s.driver = nil
	}
	if f.state == stateReady {
		f.state = stateRunning
	} else {
		f.yield(struct{}{}) // whoever resumes f marks it running
	}
	parked.Add(-1)
	if f.timer != 0 {
		f.l.CancelTimer(f.timer)
		f.timer = 0
	}
	f.sleeping = false
	if stop != nil {
		stop()
	}
	return f.w.err
}

// abort ends park number seq with err, if f is still parked in it (loop
// only). The waiter leaves its list; if its waker got there first,
// nothing happens.
func (f *Flow) abort(seq uint32, err error) {
	if f.state != stateParked || seq != f.seq {
		return
	}
	w := &f.w
	if w.abortFn != nil {
		if !w.abortFn(w) {
			return
		}
	} else if w.q != nil {
		w.q.remove(w)
	}
	w.err = err
	f.readyOnLoop()
}

// abortFrom is abort from any goroutine.
func (f *Flow) abortFrom(seq uint32, err error) {
	if f.l.InLoop() {
		f.abort(seq, err)
		return
	}
	_ = f.l.Post(func() { f.abort(seq, err) })
}

// onTimeoutFn is f.onTimeout as a func, made once: most flows never wait
// with a deadline, and a bound method value is an allocation.
func (f *Flow) onTimeoutFn() func() {
	if f.timeoutFn == nil {
		f.timeoutFn = f.onTimeout
	}
	return f.timeoutFn
}

// onTimeout is the flow's timer: a Sleep's end, or a context's deadline.
func (f *Flow) onTimeout() {
	f.timer = 0
	if f.sleeping {
		f.sleeping = false
		f.w.err = nil
		f.readyOnLoop()
		return
	}
	f.abort(f.seq, context.DeadlineExceeded)
}

// caller finds the flow making a call: the one ctx carries, else the one
// running on l, else (l nil) the one running on any loop. It returns nil
// for a plain goroutine. A context carried to another goroutine does not
// make that goroutine its flow.
func caller(ctx context.Context, l *loop.Loop) *Flow {
	if f := fromContext(ctx); f != nil && f.l.InLoop() && f.s.current == f {
		return f
	}
	if l != nil {
		return current(l)
	}
	var found *Flow
	scheds.Range(func(k, v any) bool {
		if k.(*loop.Loop).InLoop() {
			found = v.(*sched).current
			return false
		}
		return true
	})
	return found
}

// goWait blocks a goroutine on w until it is woken or ctx ends; on ctx's
// end, abort (run on l) takes w off its list. It returns w.err.
func goWait(l *loop.Loop, ctx context.Context, w *waiter, abort func(*waiter, error)) error {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-w.ch:
		return w.err
	case <-done:
	}
	err := ctx.Err()
	if l.Post(func() { abort(w, err) }) != nil {
		return loop.ErrClosed
	}
	<-w.ch
	return w.err
}

// newGoWaiter is a waiter for a plain goroutine.
func newGoWaiter() *waiter { return &waiter{ch: make(chan struct{}, 1)} }

// noCtx stands for "no context" in internal calls: the wait is bounded
// only by the flow's own cancellation and the object's deadlines.
var noCtx context.Context

// flowKey is the context key under which a flow's context carries it.
type flowKey struct{}

// flowCtx is a flow's context: cancelled by Cancel or when the flow ends,
// and carrying the flow, so blocking calls given it (or a context derived
// from it) know which flow to park.
type flowCtx struct {
	context.Context
	f      *Flow
	cancel context.CancelFunc
}

func (c *flowCtx) Value(key any) any {
	if key == (flowKey{}) {
		return c.f
	}
	return c.Context.Value(key)
}

// Context is the flow's context, made on first use: it is cancelled by
// Cancel and when the flow ends, and blocking calls given it (or a
// context derived from it) park this flow.
func (f *Flow) Context() context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx == nil {
		inner, cancel := context.WithCancel(context.Background())
		f.ctx = &flowCtx{Context: inner, f: f, cancel: cancel}
		if f.finished || f.cancelled.Load() {
			cancel()
		}
	}
	return f.ctx
}

// ownContext reports whether ctx is f's own context, which Cancel
// handles without a watcher.
func (f *Flow) ownContext(ctx context.Context) bool {
	c, ok := ctx.(*flowCtx)
	return ok && c.f == f
}

// fromContext returns the flow ctx carries, if any.
func fromContext(ctx context.Context) *Flow {
	switch c := ctx.(type) {
	case nil:
		return nil
	case *flowCtx:
		return c.f
	}
	f, _ := ctx.Value(flowKey{}).(*Flow)
	return f
}
