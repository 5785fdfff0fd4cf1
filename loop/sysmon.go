package loop

import "runtime"

// rescheduleEvery is how long the loop goroutine may go without passing
// through the Go scheduler. It stays below the runtime's 10 ms limit, past
// which sysmon treats a goroutine as hogging its P.
const rescheduleEvery = 5_000_000 // ns

// passScheduler yields the loop goroutine to the Go scheduler once every
// rescheduleEvery, right after a poll that slept.
//
// The loop goroutine never parks: it sleeps inside the port's wait system
// call while holding its P. The runtime's sysmon thread counts a
// goroutine that has not been rescheduled for 10 ms as running too long,
// and from then on, every sysmon tick (20 µs) that finds it in a system
// call takes its P away and starts another thread to run the P, however
// short the call. Under load that is tens of thousands of wake-ups and
// context switches a second on the loop's core: a thread spinning for
// work, sysmon itself at its shortest sleep, and the loop waiting to get
// its P back. One Gosched every few milliseconds resets the count, for the
// price of one handoff between threads.
func (l *Loop) passScheduler() {
	if l.now-l.rescheduled < rescheduleEvery {
		return
	}
	l.rescheduled = l.now
	runtime.Gosched()
}
