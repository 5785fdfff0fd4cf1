package loop

import (
	"os"
	"runtime"
)

// rescheduleEvery is how long, in ns, the loop goroutine may go without
// passing through the Go scheduler. It stays below the runtime's 10 ms
// limit, past which sysmon treats a goroutine as hogging its P. A
// variable only so that BenchmarkShortWaits can turn the pass off.
var rescheduleEvery int64 = 5_000_000

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
//
// BenchmarkShortWaits measures it: 4,000 polls of 50 µs, one loop, with
// GOMAXPROCS 2 (a spare P, as ReserveProcs leaves), each variant in its
// own process, five interleaved rounds, medians (Go 1.26, 2 cores under a
// load average of about 32 from other work):
//
//	               other threads' switches/wait   process CPU/wait
//	uring  pass    0.09                           30.5 µs
//	       none    1.82                           38.0 µs
//	epoll  pass    0.12                           33.6 µs
//	       none    1.47                           46.6 µs
//
//	go test -c -o loop.test ./loop
//	CPORT_BACKEND=uring ./loop.test -test.run '^$' -test.bench 'ShortWaits/^(no)?pass$' -test.benchtime 4000x
//
// End to end (cport echo --loops 1 on core 0, cport bench echo on core 1,
// 64 B messages), the same machine at load averages of 20 to 55 lost the
// difference in CPU per message in its noise.
func (l *Loop) passScheduler() {
	if l.now-l.rescheduled < rescheduleEvery {
		return
	}
	l.rescheduled = l.now
	runtime.Gosched()
}

// ReserveProcs raises GOMAXPROCS to loops+1 if it is lower, unless the
// GOMAXPROCS environment variable set it, and returns the value in force.
// Call it before starting a process's loops.
//
// A loop sleeps in its poll holding a P. When every P is held so, the
// runtime's sysmon takes the P from a poll that has slept 20 µs, starts a
// thread to look for other work, and keeps itself at its shortest tick:
// each wake-up of a lightly loaded loop then costs several context
// switches. With one P to spare, sysmon leaves a sleeping poll its P for
// up to 10 ms and backs off. (At 2,000 echoed messages a second over
// 1,000 connections, one loop pinned to one core: about 1/4 of the
// context switches and 2/3 of the CPU per message.)
//
// Calling runtime.GOMAXPROCS stops the runtime from following the
// process's CPU limit as it changes, so this is the caller's choice.
func ReserveProcs(loops int) int {
	n := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || n > loops {
		return n
	}
	runtime.GOMAXPROCS(loops + 1)
	return loops + 1
}
