package loop_test

import (
	"iter"
	"testing"

	"github.com/cport/cport/loop"
)

// A coroutine run by the loop goroutine (iter.Pull's next, called on the
// loop) is InLoop from its start and after each switch back, with no
// bookkeeping; it runs on the loop's thread; and once the loop has
// exited, nothing is InLoop, not even a coroutine on that thread.
func TestInLoopGuest(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var inside, resumed, thread bool
	runOn(t, l, func() {
		next, stop := iter.Pull(func(yield func(struct{}) bool) {
			inside = l.InLoop()
			thread = l.OnLoopThread()
			yield(struct{}{})
			resumed = l.InLoop()
		})
		defer stop()
		next()
		next()
	})
	for _, c := range []struct {
		what      string
		got, want bool
	}{
		{"on start", inside, true},
		{"on the loop's thread", thread, true},
		{"after a switch back", resumed, true},
	} {
		if c.got != c.want {
			t.Errorf("coroutine %s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	done := make(chan bool)
	go func() { done <- l.InLoop() }()
	if wait(t, done, "a goroutine") {
		t.Error("InLoop on a plain goroutine = true")
	}
	// A coroutine made and run by another goroutine is not the loop's.
	go func() {
		next, stop := iter.Pull(func(yield func(struct{}) bool) { done <- l.InLoop() })
		defer stop()
		next()
	}()
	if wait(t, done, "a goroutine's coroutine") {
		t.Error("InLoop in a coroutine of a plain goroutine = true")
	}
}

// AtClose functions run on the loop when it closes, and can still queue
// work that the shutdown runs.
func TestAtClose(t *testing.T) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ran, queued, inLoop bool
	runOn(t, l, func() {
		l.AtClose(func() {
			ran, inLoop = true, l.InLoop()
			l.CallSoon(func() { queued = true })
		})
	})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !ran || !inLoop || !queued {
		t.Errorf("AtClose: ran %v, on the loop %v, its CallSoon ran %v; want all true", ran, inLoop, queued)
	}
}
