package port

import "golang.org/x/sys/unix"

// The epoll backend's timeouts: operation indices in a deadline heap.

func (b *epollBackend) deadline(i int32) int64 { return b.op(i).when }
func (b *epollBackend) placed(i int32, at int) { b.op(i).heap = int32(at) }

// timerPush adds timeout operation i, whose deadline is set.
func (b *epollBackend) timerPush(i int32) {
	b.op(i).where = whereTimer
	b.timers.push(b, i)
}

// timerRemove takes operation i out of the heap.
func (b *epollBackend) timerRemove(i int32) { b.timers.remove(b, int(b.op(i).heap)) }

// nextTimer returns the earliest deadline, if any.
func (b *epollBackend) nextTimer() (int64, bool) {
	i, ok := b.timers.first()
	if !ok {
		return 0, false
	}
	return b.op(i).when, true
}

// expireTimers completes with ETIME every timeout due by now; finishing an
// operation takes it out of the heap.
func (b *epollBackend) expireTimers(now int64) {
	for i, ok := b.timers.first(); ok && b.op(i).when <= now; i, ok = b.timers.first() {
		b.finish(i, -int32(unix.ETIME))
	}
}
