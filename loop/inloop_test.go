package loop_test

import (
	"testing"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// InLoop (and the thread-id fallback used on architectures without getm)
// is true on the loop goroutine, in every kind of code the loop runs, and
// false everywhere else: the test goroutine, other goroutines, another
// loop, and anywhere once the loop has exited.
func TestInLoop(t *testing.T) {
	l := startLoop(t, loop.Config{})
	other := startLoop(t, loop.Config{})
	check := func(where string, want bool) {
		t.Helper()
		if got := l.InLoop(); got != want {
			t.Errorf("InLoop %s = %v, want %v", where, got, want)
		}
		if got := l.OnLoopThread(); got != want {
			t.Errorf("OnLoopThread %s = %v, want %v", where, got, want)
		}
	}
	check("on the test goroutine", false)
	runOn(t, l, func() { check("in a posted function", true) })
	runOn(t, other, func() { check("on another loop", false) })
	done := make(chan struct{})
	go func() { defer close(done); check("on another goroutine", false) }()
	wait(t, done, "the other goroutine")

	fired := make(chan struct{}, 3)
	runOn(t, l, func() {
		l.CallSoon(func() { check("in CallSoon", true); fired <- struct{}{} })
		l.CallLater(time.Microsecond, func() { check("in a timer", true); fired <- struct{}{} })
		k, _ := l.Register(func(port.Completion) { check("in a callback", true); fired <- struct{}{} })
		l.Submit(k, port.Nop())
	})
	for range 3 {
		wait(t, fired, "the loop's code")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check("after Close", false)
}
