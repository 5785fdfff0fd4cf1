package loop

import "golang.org/x/sys/windows"

// threadID is the Windows thread id. The loop goroutine is locked to its
// thread, so comparing ids is exact, as with gettid on Linux.
// GetCurrentThreadId reads the thread's TEB and does not enter the kernel.
func threadID() int32 { return int32(windows.GetCurrentThreadId()) }

// onLoopThread reports whether the caller runs on the loop's locked thread.
// It is InLoop's fallback where there is no getm, and is built everywhere
// so that the tests check it on every architecture.
func (l *Loop) onLoopThread() bool {
	tid := l.tid.Load()
	return tid != 0 && threadID() == tid
}
