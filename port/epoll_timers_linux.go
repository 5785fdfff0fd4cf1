package port

import "golang.org/x/sys/unix"

// The epoll backend's timeouts: a binary min-heap of operation indices
// ordered by deadline. Each operation keeps its position in the heap, so a
// cancelled timeout leaves in O(log n) without a search.

// timerPush adds timeout operation i, whose deadline is set.
func (b *epollBackend) timerPush(i int32) {
	b.ops[i].where = whereTimer
	b.ops[i].heap = int32(len(b.timers))
	b.timers = append(b.timers, i)
	b.timerUp(len(b.timers) - 1)
}

// timerRemove takes operation i out of the heap.
func (b *epollBackend) timerRemove(i int32) {
	at := int(b.ops[i].heap)
	last := len(b.timers) - 1
	if at != last {
		b.timerSwap(at, last)
	}
	b.timers = b.timers[:last]
	if at != last {
		b.timerDown(at)
		b.timerUp(at)
	}
}

// nextTimer returns the earliest deadline, if any.
func (b *epollBackend) nextTimer() (int64, bool) {
	if len(b.timers) == 0 {
		return 0, false
	}
	return b.ops[b.timers[0]].when, true
}

// expireTimers completes with ETIME every timeout due by now.
func (b *epollBackend) expireTimers(now int64) {
	for len(b.timers) > 0 && b.ops[b.timers[0]].when <= now {
		b.finish(b.timers[0], -int32(unix.ETIME))
	}
}

// timerLess orders heap positions x and y by deadline.
func (b *epollBackend) timerLess(x, y int) bool {
	return b.ops[b.timers[x]].when < b.ops[b.timers[y]].when
}

// timerSwap exchanges heap positions x and y and their back-references.
func (b *epollBackend) timerSwap(x, y int) {
	t := b.timers
	t[x], t[y] = t[y], t[x]
	b.ops[t[x]].heap = int32(x)
	b.ops[t[y]].heap = int32(y)
}

// timerUp restores the heap order above position at.
func (b *epollBackend) timerUp(at int) {
	for at > 0 {
		parent := (at - 1) / 2
		if !b.timerLess(at, parent) {
			return
		}
		b.timerSwap(at, parent)
		at = parent
	}
}

// timerDown restores the heap order below position at.
func (b *epollBackend) timerDown(at int) {
	n := len(b.timers)
	for {
		least := at
		if l := 2*at + 1; l < n && b.timerLess(l, least) {
			least = l
		}
		if r := 2*at + 2; r < n && b.timerLess(r, least) {
			least = r
		}
		if least == at {
			return
		}
		b.timerSwap(at, least)
		at = least
	}
}
