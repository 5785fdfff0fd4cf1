package port

import "syscall"

// The iocp backend's timeouts: a binary min-heap of slots ordered by
// deadline, whose earliest entry shortens the wait for the port. Each slot
// keeps its position, so a cancelled timeout leaves in O(log n).

// timerPush adds timeout slot s, whose deadline is set.
func (b *iocp) timerPush(s *slot) {
	s.sys.heap = int32(len(b.timers))
	b.timers = append(b.timers, s)
	b.timerUp(len(b.timers) - 1)
}

// timerRemove takes s out of the heap.
func (b *iocp) timerRemove(s *slot) {
	at, last := int(s.sys.heap), len(b.timers)-1
	if at != last {
		b.timerSwap(at, last)
	}
	b.timers[last] = nil
	b.timers = b.timers[:last]
	if at != last {
		b.timerDown(at)
		b.timerUp(at)
	}
}

// nextTimer returns the earliest deadline, if any.
func (b *iocp) nextTimer() (int64, bool) {
	if len(b.timers) == 0 {
		return 0, false
	}
	return b.timers[0].sys.when, true
}

// expireTimers completes with ETIME every timeout due by now.
func (b *iocp) expireTimers(now int64) {
	for len(b.timers) > 0 && b.timers[0].sys.when <= now {
		s := b.timers[0]
		b.timerRemove(s)
		b.finish(s, negErrno(syscall.ETIME))
	}
}

// timerSwap exchanges heap positions x and y and their back-references.
func (b *iocp) timerSwap(x, y int) {
	t := b.timers
	t[x], t[y] = t[y], t[x]
	t[x].sys.heap, t[y].sys.heap = int32(x), int32(y)
}

// timerUp restores the heap order above position at.
func (b *iocp) timerUp(at int) {
	for at > 0 {
		parent := (at - 1) / 2
		if b.timers[at].sys.when >= b.timers[parent].sys.when {
			return
		}
		b.timerSwap(at, parent)
		at = parent
	}
}

// timerDown restores the heap order below position at.
func (b *iocp) timerDown(at int) {
	n := len(b.timers)
	for {
		least := at
		if l := 2*at + 1; l < n && b.timers[l].sys.when < b.timers[least].sys.when {
			least = l
		}
		if r := 2*at + 2; r < n && b.timers[r].sys.when < b.timers[least].sys.when {
			least = r
		}
		if least == at {
			return
		}
		b.timerSwap(at, least)
		at = least
	}
}
