package loop

import "syscall"

func threadID() int32 { return int32(syscall.Gettid()) }

// onLoopThread reports whether the caller runs on the loop's locked thread.
// It is InLoop's fallback where there is no getm, and is built everywhere
// so that the tests check it on every architecture.
func (l *Loop) onLoopThread() bool {
	tid := l.tid.Load()
	return tid != 0 && threadID() == tid
}
