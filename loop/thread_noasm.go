//go:build !amd64 && !arm64

package loop

// threadHandle has no getm to read here: the loop records no m.
func threadHandle() uintptr { return 0 }

// onLoop compares OS thread ids instead. That is exact because the loop
// goroutine is locked to its thread: no other goroutine runs there while
// it lives, except the coroutines it runs itself (flows), which share its
// thread and count as on the loop. It costs a gettid system call.
func (l *Loop) onLoop() bool { return l.onLoopThread() }
