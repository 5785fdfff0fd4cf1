package loop

import (
	"sync"
	"sync/atomic"
)

// running is every loop whose goroutine runs now, for Current and
// Running. It changes when a loop starts or ends, rarely, so readers take
// a snapshot without a lock.
var running struct {
	mu    sync.Mutex
	loops atomic.Pointer[[]*Loop]
}

func addRunning(l *Loop) {
	running.mu.Lock()
	defer running.mu.Unlock()
	var next []*Loop
	if cur := running.loops.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, l)
	running.loops.Store(&next)
}

func removeRunning(l *Loop) {
	running.mu.Lock()
	defer running.mu.Unlock()
	cur := running.loops.Load()
	if cur == nil {
		return
	}
	next := make([]*Loop, 0, len(*cur))
	for _, o := range *cur {
		if o != l {
			next = append(next, o)
		}
	}
	running.loops.Store(&next)
}

// Running returns the loops that run now.
func Running() []*Loop {
	if cur := running.loops.Load(); cur != nil {
		return append([]*Loop(nil), *cur...)
	}
	return nil
}

// Current returns the loop whose thread the caller runs on (in one of its
// callbacks or flows), or nil on any other goroutine. Code that must not
// block a loop asks it: a loop thread may never wait for another loop,
// which may be waiting for it.
func Current() *Loop {
	cur := running.loops.Load()
	if cur == nil {
		return nil
	}
	for _, l := range *cur {
		if l.InLoop() {
			return l
		}
	}
	return nil
}

// Progress reports how many turns the loop has made and whether work
// posted to it waits to be taken. A loop whose turns stay the same while
// work waits is stuck inside a callback: a watchdog reads this from
// another goroutine.
func (l *Loop) Progress() (turns uint64, pending bool) {
	return l.turns.Load(), l.posts.nonempty.Load()
}
