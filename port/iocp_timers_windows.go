package port

import "syscall"

// The iocp backend's timeouts: slots, named by their key's index, in the
// shared deadline heap (internal/timerheap), whose earliest entry shortens
// the wait for the port.

// timerPush adds timeout slot s, due at when.
func (b *iocp) timerPush(s *slot, when int64) { b.timers.Push(s.sys.key.index(), when) }

// timerRemove takes s out of the heap.
func (b *iocp) timerRemove(s *slot) { b.timers.Remove(s.sys.key.index()) }

// nextTimer returns the earliest deadline, if any.
func (b *iocp) nextTimer() (int64, bool) {
	top, ok := b.timers.Top()
	return top.When, ok
}

// expireTimers completes with ETIME every timeout due by now.
func (b *iocp) expireTimers(now int64) {
	for top, ok := b.timers.Top(); ok && top.When <= now; top, ok = b.timers.Top() {
		s := b.ops[top.ID].s
		b.timerRemove(s)
		b.finish(s, negErrno(syscall.ETIME))
	}
}
