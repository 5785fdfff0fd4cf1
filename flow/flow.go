package flow

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/cport/cport/loop"
)

// Flow states; only the flow's loop reads or writes them.
const (
	stateNew     uint8 = iota // created, not yet queued
	stateReady                // in the run queue
	stateRunning              // the loop is switched to it
	stateParked               // waiting; a wake or an abort makes it ready
	stateDone                 // its function returned or panicked
)

// Flow is a function running on a loop as a coroutine: it runs only while
// the loop goroutine is switched to it, and hands control back only where
// it blocks (parks). See the package documentation.
type Flow struct {
	l  *loop.Loop
	s  *sched
	fn func(*Flow)

	next  func() (struct{}, bool)
	yield func(struct{}) bool

	w         waiter
	timer     loop.Timer
	timeoutFn func() // f.onTimeout, made by the first timed wait
	remoteFn  func() // f.remoteWake, made by the first call on another loop's object

	lprev, lnext *Flow // the scheduler's list of live flows
	rnext        *Flow // the next in the run queue

	mu      sync.Mutex // guards what other goroutines read or wait on below
	done    chan struct{}
	err     error
	joiners waitq
	ctx     *flowCtx

	noSwitch  int32  // NoSwitch depth: parking inside is a bug
	seq       uint32 // counts parks, so a late abort of an earlier one is ignored
	cancelled atomic.Bool
	state     uint8
	sleeping  bool
	// A call on another loop's object (owner.go): its owner signalled;
	// the flow is parked waiting for that.
	remoteWoken, remoteWaiting bool
	finished                   bool // guarded by mu
}

// PanicError is what Wait returns for a flow that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("flow: panic: %v", e.Value) }

// ErrNotInFlow is returned by a blocking call made on a loop goroutine
// outside any flow, where parking would block the loop itself.
var ErrNotInFlow = errors.New("flow: blocking call on the loop outside a flow")

// errSwitchInNoSwitch is the panic of a park inside NoSwitch.
var errSwitchInNoSwitch = errors.New("flow: switch inside NoSwitch")

// Go runs fn as a flow on l and returns at once. Called from any goroutine;
// the flow starts on l's next turn (on l, after the current flow or
// callback yields). If l is closed, the flow never runs and Wait returns
// loop.ErrClosed.
func Go(l *loop.Loop, fn func(f *Flow)) *Flow {
	f := &Flow{l: l, s: schedFor(l), fn: fn}
	f.w.f = f
	if l.InLoop() {
		f.admit()
		return f
	}
	if err := l.Post(f.admit); err != nil {
		f.finish(loop.ErrClosed)
	}
	return f
}

// admit registers f with its scheduler, makes its coroutine and queues
// its start (loop only).
func (f *Flow) admit() {
	if f.s.closing {
		f.finish(loop.ErrClosed)
		return
	}
	f.start()
	f.s.live.add(f)
	f.l.Counters().FlowsRunning.Add(1)
	f.s.ready(f)
}

// start makes f's coroutine. It runs on the loop's thread, in a callback
// or a flow there: a coroutine made while the thread is locked records
// the lock and must always be switched to on that thread, which is the
// one that will resume it.
func (f *Flow) start() {
	f.next, _ = iter.Pull(func(yield func(struct{}) bool) {
		f.yield = yield
		defer f.exit()
		f.fn(f)
	})
}

// exit runs as the flow's function returns or panics, still in the flow.
func (f *Flow) exit() {
	var err error
	if v := recover(); v != nil {
		// Here, on top of the panicking frames, the stack shows the cause.
		pe := &PanicError{Value: v, Stack: debug.Stack()}
		f.l.ReportPanic(v, pe.Stack)
		err = pe
	}
	f.state = stateDone
	f.s.live.remove(f)
	f.l.Counters().FlowsRunning.Add(-1)
	if f.timer != 0 {
		f.l.CancelTimer(f.timer)
		f.timer = 0
	}
	f.finish(err)
}

// finish records the result and wakes every joiner.
func (f *Flow) finish(err error) {
	f.state = stateDone
	f.mu.Lock()
	f.finished = true
	f.err = err
	if f.done != nil {
		close(f.done)
	}
	// Detached under the lock, so an abort on a joiner's loop sees it
	// gone and leaves the wake to us.
	js := f.joiners.head
	for w := js; w != nil; w = w.next {
		w.q = nil
	}
	f.joiners = waitq{}
	ctx := f.ctx
	f.mu.Unlock()
	for w := js; w != nil; {
		next := w.next
		w.prev, w.next = nil, nil
		w.wakeFrom(nil)
		w = next
	}
	if ctx != nil {
		ctx.cancel()
	}
}

// Loop is the loop the flow runs on.
func (f *Flow) Loop() *loop.Loop { return f.l }

// Done is closed when the flow has ended.
func (f *Flow) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		f.done = make(chan struct{})
		if f.finished {
			close(f.done)
		}
	}
	return f.done
}

// Wait blocks until the flow has ended and returns nil, a *PanicError, or
// loop.ErrClosed for a flow that never ran. From a flow of the same loop
// it parks that flow; from a flow of another loop use Join with that
// flow's context, or Wait blocks that loop's thread.
func (f *Flow) Wait() error { return f.Join(noCtx) }

// Join is Wait with a context: from a flow (ctx from Flow.Context, or
// derived from it) it parks that flow; from a goroutine it blocks it. It
// returns ctx's error if ctx ends first.
func (f *Flow) Join(ctx context.Context) error {
	self := caller(ctx, f.l)
	if self == nil {
		return f.joinBlocking(ctx)
	}
	if self == f {
		return errors.New("flow: a flow cannot join itself")
	}
	f.mu.Lock()
	if f.finished {
		err := f.err
		f.mu.Unlock()
		return err
	}
	if err := self.check(ctx, true); err != nil {
		f.mu.Unlock()
		return err
	}
	w := &self.w
	w.reset()
	w.abortFn = f.unjoin
	f.joiners.push(w)
	f.mu.Unlock()
	if err := self.park(ctx, nil, cancellable); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// unjoin takes an aborted joiner off the list; joiners may be on other
// loops, so the list is under the mutex.
func (f *Flow) unjoin(w *waiter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.q != &f.joiners {
		return false
	}
	f.joiners.remove(w)
	return true
}

func (f *Flow) joinBlocking(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Cancel asks the flow to stop, from any goroutine: the blocking call it
// is parked in, and every later one, returns context.Canceled, and its
// Context is cancelled. A flow that never blocks again is not stopped.
func (f *Flow) Cancel() {
	if f.cancelled.Swap(true) {
		return
	}
	// The context is cancelled at once, from here: a flow that sees the
	// flag must also see its context done.
	f.mu.Lock()
	ctx := f.ctx
	f.mu.Unlock()
	if ctx != nil {
		ctx.cancel()
	}
	if f.l.InLoop() {
		f.cancelOnLoop()
		return
	}
	_ = f.l.Post(f.cancelOnLoop)
}

func (f *Flow) cancelOnLoop() {
	f.cancelled.Store(true)
	f.mu.Lock()
	ctx := f.ctx
	f.mu.Unlock()
	if ctx != nil {
		ctx.cancel()
	}
	f.abort(f.seq, context.Canceled)
}

// Cancelled reports whether Cancel was called.
func (f *Flow) Cancelled() bool { return f.cancelled.Load() }

// readyOnLoop makes a parked flow ready; it is what a wake posts from
// another goroutine.
func (f *Flow) readyOnLoop() {
	if f.state != stateParked {
		return
	}
	f.s.ready(f)
}

// NoSwitch runs fn and panics if f parks inside it: code that must see
// shared state unchanged by other flows asserts it here (Gruvi's
// assert_no_switchpoints).
func NoSwitch(f *Flow, fn func()) {
	f.noSwitch++
	defer func() { f.noSwitch-- }()
	fn()
}
