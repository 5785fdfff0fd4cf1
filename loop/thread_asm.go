//go:build amd64 || arm64

package loop

import (
	"iter"
	"runtime"
	"sync"
)

// getm returns the runtime's handle of the OS thread running the caller
// (the m pointer of the running g; thread_$GOARCH.s). The loop goroutine is
// locked to its thread, so while it lives that m runs nothing but the loop
// goroutine and the coroutines it switches to (flows, built on iter.Pull):
// comparing m pointers says "on the loop" for all of them alike, with no
// bookkeeping at each switch, at the cost of one call and two loads. The
// supported alternative, the thread id, is a system call (about 1 µs in
// a VM with KPTI, against 1.5 ns), and InLoop runs several times per
// message.
//
// The m field's offset in g (48 bytes on 64-bit platforms: the stack
// bounds, two stack guards, the panic and defer chains) is the runtime's
// private layout, which Go does not promise. So it is not trusted blindly:
// the first loop to start probes it (getmTrusted), and if a Go release
// has moved the field, every loop compares thread ids instead: slower,
// never wrong.
func getm() uintptr

// getmTrusted reports whether getm still names the thread, probed once.
var getmTrusted = sync.OnceValue(func() bool { return namesThreads(getm) })

// namesThreads reports whether handle behaves as a thread's handle:
// nonzero, the same for a locked goroutine before and after it blocks and
// in a coroutine it runs, and different for another locked goroutine
// running at the same time. A field other than m read by mistake fails
// one of these: a pointer that is nil while nothing panics or defers,
// a stack address that differs between a goroutine and its coroutine.
func namesThreads(handle func() uintptr) bool {
	type sample struct{ before, coroutine, after uintptr }
	started := make(chan struct{}, 2)
	hold := make(chan struct{})
	out := make(chan sample, 2)
	probe := func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var s sample
		s.before = handle()
		next, stop := iter.Pull(func(yield func(struct{}) bool) {
			s.coroutine = handle()
			yield(struct{}{})
		})
		next()
		stop()
		started <- struct{}{}
		<-hold // both threads are held by their goroutines at once
		s.after = handle()
		out <- s
	}
	go probe()
	go probe()
	<-started
	<-started
	close(hold)
	a, b := <-out, <-out
	for _, s := range []sample{a, b} {
		if s.before == 0 || s.coroutine != s.before || s.after != s.before {
			return false
		}
	}
	return a.before != b.before
}

// threadHandle is what the loop records of its thread for onLoop: getm's
// handle where the probe trusts it, else zero (compare thread ids).
func threadHandle() uintptr {
	if !getmTrusted() {
		return 0
	}
	return getm()
}

// onLoop needs no zero check on getm: a running goroutine always has an
// m. l.m is zero before the loop starts, after it ends, and where getm is
// not trusted; then the thread id decides (itself zero outside the loop's
// life, so no system call is made then). The branch costs about 1 ns and
// InLoop's inlining (2.5 ns a call instead of 1.4), a few calls per
// message.
func (l *Loop) onLoop() bool {
	if m := l.m.Load(); m != 0 {
		return getm() == m
	}
	return l.onLoopThread()
}
