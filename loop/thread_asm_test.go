//go:build amd64 || arm64

package loop

import (
	"iter"
	"runtime"
	"testing"
)

// getm reads a runtime field by its offset; this checks the offset still
// names the thread: equal for a locked goroutine before and after it
// blocks and in the coroutines it runs, different for another locked
// goroutine running at the same time.
func TestGetm(t *testing.T) {
	type sample struct{ before, coroutine, after uintptr }
	started := make(chan struct{})
	run := func(out chan<- sample, hold <-chan struct{}) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var s sample
		s.before = getm()
		next, stop := iter.Pull(func(yield func(struct{}) bool) {
			s.coroutine = getm()
			yield(struct{}{})
		})
		next()
		stop()
		started <- struct{}{}
		<-hold // blocks the goroutine, parking its thread with it
		s.after = getm()
		out <- s
	}
	out := make(chan sample, 2)
	hold := make(chan struct{})
	go run(out, hold)
	go run(out, hold)
	<-started // both threads are now held by their goroutines
	<-started
	close(hold)
	a, b := <-out, <-out
	for _, s := range []sample{a, b} {
		if s.before == 0 || s.coroutine != s.before || s.after != s.before {
			t.Errorf("one locked goroutine's m: before %#x, in its coroutine %#x, after blocking %#x; want equal and nonzero",
				s.before, s.coroutine, s.after)
		}
	}
	if a.before == b.before {
		t.Errorf("two locked goroutines share m %#x", a.before)
	}
}
