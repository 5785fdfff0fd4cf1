package flow

import (
	"context"

	"github.com/cport/cport/loop"
)

// Calls on objects that belong to a loop (connections, pipes, packet
// sockets) run on that loop, their owner. Who calls decides how the caller
// waits while the owner works:
//
//	a flow of the owner          inline; parks on the owner as usual
//	a callback of the owner      inline if it need not wait, else ErrNotInFlow
//	a flow of another loop       the owner runs it; the flow parks on its own loop
//	a callback of another loop   posted if it need not wait, else ErrNotInFlow
//	a plain goroutine            the owner runs it; the goroutine blocks
//
// A loop's thread never waits for another loop: two loops that each
// waited for the other would both stop for good.

// foreignFlow returns the flow making a call on owner's object from
// another loop, or nil; foreign reports whether the caller runs on another
// loop's thread at all (a flow or a callback there).
func foreignFlow(ctx context.Context, owner *loop.Loop) (f *Flow, foreign bool) {
	cur := loop.Current()
	if cur == nil || cur == owner {
		return nil, false
	}
	if f := fromContext(ctx); f != nil && f.l == cur && f.s.current == f {
		return f, true
	}
	return current(cur), true
}

// awaitOn runs step on owner, again after each wake-up, until it reports
// the call over (w.err and w.n then say how), for a caller that is not on
// owner's thread: a flow of another loop parks, a goroutine blocks, and a
// callback of another loop gets ErrNotInFlow. abort takes w off owner's
// lists when ctx ends first.
func awaitOn(owner *loop.Loop, ctx context.Context, w *waiter, step func(*waiter) bool, abort func(*waiter, error)) error {
	f, foreign := foreignFlow(ctx, owner)
	if foreign && f == nil {
		return ErrNotInFlow
	}
	if f != nil {
		f.expectSignal() // notify posts f.remoteFn, which this makes
		w.f, w.remote = f, true
	}
	try := func() {
		if step(w) {
			w.done = true
			w.notify()
		}
	}
	for !w.done {
		if err := owner.Post(try); err != nil {
			return loop.ErrClosed
		}
		var err error
		if f != nil {
			err = f.awaitRemote(owner, ctx, w, abort)
		} else {
			err = goWait(owner, ctx, w, abort)
		}
		if err != nil && !w.done {
			return err
		}
	}
	return nil
}

// runOnOwner runs fn on owner and returns once it has run, waiting as
// awaitOn does (ErrNotInFlow from a callback of another loop). It fails
// with loop.ErrClosed if owner is closed.
func runOnOwner(owner *loop.Loop, fn func()) error {
	if owner.InLoop() {
		fn()
		return nil
	}
	w := newGoWaiter()
	return awaitOn(owner, nil, w, func(*waiter) bool { fn(); return true }, abortGo)
}

// runOrPost is runOnOwner for calls that need not wait, such as Close:
// from a callback of another loop, which may not wait, fn is posted, and
// ran is false (what fn computes is not the caller's to read).
func runOrPost(owner *loop.Loop, fn func()) (ran bool, err error) {
	if !owner.InLoop() {
		if f, foreign := foreignFlow(noCtx, owner); foreign && f == nil {
			return false, owner.Post(fn)
		}
	}
	return true, runOnOwner(owner, fn)
}

// awaitRemote parks f, a flow of another loop than owner, until owner
// signals w (notify). If ctx ends or f is cancelled first, it asks owner
// to abort the wait and still waits for owner's last word, so that no
// signal arrives after the call has returned.
func (f *Flow) awaitRemote(owner *loop.Loop, ctx context.Context, w *waiter, abort func(*waiter, error)) error {
	var err error
	for !f.remoteWoken && err == nil {
		f.remoteWaiting = true
		err = f.park(ctx, nil, cancellable)
		f.remoteWaiting = false
	}
	if !f.remoteWoken {
		if owner.Post(func() { abort(w, err) }) != nil {
			return loop.ErrClosed
		}
		f.parkUntilSignalled()
		return err
	}
	f.remoteWoken = false
	return err
}

// expectSignal readies f for one signal from another loop and returns
// the function that gives it (post it to f's loop).
func (f *Flow) expectSignal() func() {
	if f.remoteFn == nil {
		f.remoteFn = f.remoteWake
	}
	f.remoteWoken = false
	return f.remoteFn
}

// parkUntilSignalled parks f, whatever else happens, until the signal
// expectSignal prepared has come.
func (f *Flow) parkUntilSignalled() {
	for !f.remoteWoken {
		f.remoteWaiting = true
		f.park(noCtx, nil, uncancellable)
		f.remoteWaiting = false
	}
	f.remoteWoken = false
}

// remoteWake is owner's signal, run on f's loop.
func (f *Flow) remoteWake() {
	f.remoteWoken = true
	if f.remoteWaiting {
		f.w.err = nil
		f.readyOnLoop()
	}
}
