package loop

import (
	"time"

	"github.com/cport/cport/port"
)

// Iterations counts loop turns (loop only).
func (l *Loop) Iterations() uint64 { return l.iterations }

// Wakes counts the port.Wake calls posters made.
func (l *Loop) Wakes() uint64 { return l.posts.wakes.Load() }

// Dispatch hands c to the callback map as if Wait had returned it (loop only).
func (l *Loop) Dispatch(c port.Completion) { l.dispatch(c) }

// OnLoopThread is InLoop's fallback for architectures without getm.
func (l *Loop) OnLoopThread() bool { return l.onLoopThread() }

// ArmedTimers counts timers in the heap (loop only).
func (l *Loop) ArmedTimers() int { return l.timers.heap.Len() }

// RunFuncs runs fns as the loop runs its ready queue.
func (l *Loop) RunFuncs(fns []func()) { l.runFuncs(kindFunc, fns) }

// RunFuncsBare is RunFuncs without panic recovery: the baseline that shows
// what the recovery costs.
func (l *Loop) RunFuncsBare(fns []func()) {
	for i, fn := range fns {
		fns[i] = nil
		l.invoke(kindFunc, fn)
	}
}

// SetRescheduleEvery sets how often a loop started afterwards passes
// through the Go scheduler (sysmon.go) and returns the function that
// restores it.
func SetRescheduleEvery(d time.Duration) (restore func()) {
	was := rescheduleEvery
	rescheduleEvery = d.Nanoseconds()
	return func() { rescheduleEvery = was }
}
