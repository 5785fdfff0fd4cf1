package port

import "syscall"

// The iocp backend's timeouts: slots in a deadline heap, whose earliest
// entry shortens the wait for the port.

func (b *iocp) deadline(s *slot) int64 { return s.sys.when }
func (b *iocp) placed(s *slot, at int) { s.sys.heap = int32(at) }

// timerPush adds timeout slot s, whose deadline is set.
func (b *iocp) timerPush(s *slot) { b.timers.push(b, s) }

// timerRemove takes s out of the heap.
func (b *iocp) timerRemove(s *slot) { b.timers.remove(b, int(s.sys.heap)) }

// nextTimer returns the earliest deadline, if any.
func (b *iocp) nextTimer() (int64, bool) {
	s, ok := b.timers.first()
	if !ok {
		return 0, false
	}
	return s.sys.when, true
}

// expireTimers completes with ETIME every timeout due by now.
func (b *iocp) expireTimers(now int64) {
	for s, ok := b.timers.first(); ok && s.sys.when <= now; s, ok = b.timers.first() {
		b.timerRemove(s)
		b.finish(s, negErrno(syscall.ETIME))
	}
}
