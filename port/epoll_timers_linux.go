package port

import "golang.org/x/sys/unix"

// The epoll backend's timeouts: operation indices in the shared deadline
// heap (internal/timerheap).

// timerPush adds timeout operation i, due at when.
func (b *epollBackend) timerPush(i int32, when int64) {
	b.op(i).where = whereTimer
	b.timers.Push(uint32(i), when)
}

// timerRemove takes operation i out of the heap.
func (b *epollBackend) timerRemove(i int32) { b.timers.Remove(uint32(i)) }

// nextTimer returns the earliest deadline, if any.
func (b *epollBackend) nextTimer() (int64, bool) {
	top, ok := b.timers.Top()
	return top.When, ok
}

// expireTimers completes with ETIME every timeout due by now; finishing an
// operation takes it out of the heap.
func (b *epollBackend) expireTimers(now int64) {
	for top, ok := b.timers.Top(); ok && top.When <= now; top, ok = b.timers.Top() {
		b.finish(int32(top.ID), -int32(unix.ETIME))
	}
}
