package loop_test

import (
	"iter"
	"testing"

	"github.com/cport/cport/loop"
)

// A coroutine run by the loop goroutine (iter.Pull's next, called on the
// loop) is InLoop once it has called EnterGuest, on start and after each
// switch back; it runs on the loop's thread; and once it has called
// ExitGuest and ended, its goroutine (and any reuse of its g) is not.
func TestInLoopGuest(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var before, inside, resumed, thread, afterExit bool
	runOn(t, l, func() {
		next, stop := iter.Pull(func(yield func(struct{}) bool) {
			before = l.InLoop()
			l.EnterGuest()
			inside = l.InLoop()
			thread = l.OnLoopThread()
			yield(struct{}{})
			l.EnterGuest()
			resumed = l.InLoop()
			l.ExitGuest()
			afterExit = l.InLoop()
		})
		defer stop()
		next()
		next()
	})
	for _, c := range []struct {
		what      string
		got, want bool
	}{
		{"before EnterGuest", before, false},
		{"after EnterGuest", inside, true},
		{"on the loop's thread", thread, true},
		{"after a switch back", resumed, true},
		{"after ExitGuest", afterExit, false},
	} {
		if c.got != c.want {
			t.Errorf("coroutine %s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	done := make(chan bool)
	go func() { done <- l.InLoop() }()
	if wait(t, done, "a goroutine") {
		t.Error("InLoop on a plain goroutine while a guest is recorded = true")
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
