package loop

// A guest is a coroutine the loop goroutine runs inside one of its own
// callbacks (package flow's flows, built on iter.Pull). While it runs, the
// loop goroutine is blocked in the coroutine switch on the same OS thread,
// so the guest has the loop to itself and may do what the loop does:
// Register, Submit, CallSoon, act on transports at once. Yet it is another
// goroutine, with its own g, so InLoop's g comparison would say no. The
// loop therefore remembers the g of the guest that ran last, and InLoop
// accepts either.
//
// The guest's g need not be cleared when it parks: a parked coroutine's g
// runs nothing else, so no other code can ever match it. It must be
// cleared before the coroutine ends, since the runtime reuses gs.

// EnterGuest makes InLoop true on the calling goroutine. Only a coroutine
// that the loop goroutine is running may call it, each time it gets
// control (on start and after every switch back to it). It costs a load
// and at most one store.
func (l *Loop) EnterGuest() {
	if g := getg(); l.guest.Load() != g {
		l.guest.Store(g)
	}
}

// ExitGuest undoes EnterGuest; a guest calls it before it ends.
func (l *Loop) ExitGuest() {
	l.guest.CompareAndSwap(getg(), 0)
}

// AtClose queues fn to run on the loop goroutine when the loop begins to
// shut down, after posted work and before operations are cancelled (loop
// only). Code that parks work on the loop, such as flows, uses it to end
// that work while the loop can still run it.
func (l *Loop) AtClose(fn func()) {
	l.atClose = append(l.atClose, fn)
}

// ReportPanic hands a panic recovered by code the loop runs (a flow) to
// Config.OnPanic, as the loop does with its own.
func (l *Loop) ReportPanic(v any, stack []byte) { l.onPanic(v, stack) }

// runAtClose runs the AtClose functions once, each under its own recover.
func (l *Loop) runAtClose() {
	fns := l.atClose
	l.atClose = nil
	l.runFuncs(kindFunc, fns)
}
