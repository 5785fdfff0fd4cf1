package loop

// A guest is a coroutine the loop goroutine runs inside one of its own
// callbacks (package flow's flows, built on iter.Pull). While it runs, the
// loop goroutine is blocked in the coroutine switch on the same OS thread,
// so the guest has the loop to itself and may do what the loop does:
// Register, Submit, CallSoon, act on transports at once. InLoop says so
// without being told: it compares OS threads, not goroutines
// (thread_asm.go). What a guest host does need is below.

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
