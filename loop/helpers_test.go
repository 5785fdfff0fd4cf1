package loop_test

import (
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// hangGuard bounds every wait in the tests. It is not a performance
// expectation: a correct loop answers in microseconds, and only a bug
// (a lost wake-up, a deadlock) comes near it.
const hangGuard = 10 * time.Second

// startLoop starts a loop on the backend CPORT_BACKEND names and closes it
// when the test ends.
func startLoop(t testing.TB, cfg loop.Config) *loop.Loop {
	t.Helper()
	l, err := loop.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// runOn runs fn on the loop and waits for it to return.
func runOn(t testing.TB, l *loop.Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Post(func() { defer close(done); fn() }); err != nil {
		t.Fatalf("Post: %v", err)
	}
	wait(t, done, "a posted function")
}

// wait receives from ch or fails the test after hangGuard.
func wait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("%s did not happen within %v", what, hangGuard)
		panic("unreachable")
	}
}

// waitFor polls cond on the loop until it holds.
func waitFor(t testing.TB, l *loop.Loop, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		var ok bool
		runOn(t, l, func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, hangGuard)
		}
		time.Sleep(time.Millisecond)
	}
}
