package loop_test

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// A closed loop refuses work with ErrClosed and runs nothing more.
func TestClosedLoopRefusesWork(t *testing.T) {
	l := startLoop(t, loop.Config{})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Close returned before Done was closed")
	}
	ran := false
	if err := l.Post(func() { ran = true }); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Post: %v, want ErrClosed", err)
	}
	if _, err := l.Register(func(port.Completion) {}); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Register: %v, want ErrClosed", err)
	}
	if err := l.Submit(1<<32, port.Nop()); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Submit: %v, want ErrClosed", err)
	}
	if tm := l.CallLater(0, func() { ran = true }); tm != 0 {
		t.Errorf("CallLater returned %v, want the zero Timer", tm)
	}
	if err := l.Close(); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if ran {
		t.Error("a function ran after Close")
	}
}

// Close runs what was posted before it, then cancels operations in flight
// and delivers their final completions to their callbacks, which may no
// longer submit. A released key's callback is not called, and pending
// timers do not fire.
func TestCloseRunsPostedAndCancelsInFlight(t *testing.T) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	const ops = 3
	var results []error // loop only; read after Done
	var resubmit []error
	released, timerFired := 0, false
	runOn(t, l, func() {
		for range ops {
			var k port.Key
			k, _ = l.Register(func(c port.Completion) {
				results = append(results, c.Err())
				resubmit = append(resubmit, l.Submit(k, port.Nop()))
				l.Release(k)
			})
			if err := l.Submit(k, port.Timeout(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		k, _ := l.Register(func(port.Completion) { released++ })
		l.Submit(k, port.Timeout(time.Hour))
		l.Release(k)
		l.CallLater(time.Hour, func() { timerFired = true })
	})

	entered, gate := make(chan struct{}), make(chan struct{})
	l.Post(func() { close(entered); <-gate })
	wait(t, entered, "the blocking function")
	const posted = 100
	ran := 0
	for range posted {
		l.Post(func() { ran++ })
	}
	l.Stop()
	if err := l.Post(func() { ran++ }); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Post after Stop: %v, want ErrClosed", err)
	}
	close(gate)
	closed := make(chan error)
	go func() { closed <- l.Close() }()
	if err := wait(t, closed, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}

	if ran != posted {
		t.Errorf("%d of %d functions posted before Close ran", ran, posted)
	}
	if len(results) != ops {
		t.Fatalf("%d of %d in-flight operations reported, want all", len(results), ops)
	}
	for i, err := range results {
		if !errors.Is(err, syscall.ECANCELED) {
			t.Errorf("operation %d ended with %v, want ECANCELED", i, err)
		}
		if !errors.Is(resubmit[i], loop.ErrClosed) {
			t.Errorf("Submit from a callback during Close: %v, want ErrClosed", resubmit[i])
		}
	}
	if released != 0 {
		t.Errorf("a released key's callback ran %d times during Close", released)
	}
	if timerFired {
		t.Error("a pending timer fired during Close")
	}
}

// Close called on the loop itself cannot wait for the loop to exit; it
// stops it, and the loop exits once the calling function returns.
func TestCloseFromTheLoop(t *testing.T) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	after := false
	runOn(t, l, func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close on the loop: %v", err)
		}
		after = true
	})
	wait(t, l.Done(), "the loop's exit")
	if !after {
		t.Error("Close on the loop did not return to its caller")
	}
}

// After Close no loop goroutine remains.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 4 {
		l, err := loop.Start(loop.Config{})
		if err != nil {
			t.Fatal(err)
		}
		runOn(t, l, func() { l.CallLater(time.Hour, func() {}) })
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	waitGoroutines(t, before)
}

// Start reports the port's error and leaves nothing running.
func TestStartReportsPortError(t *testing.T) {
	before := runtime.NumGoroutine()
	_, err := loop.Start(loop.Config{Port: port.Config{Backend: "no-such-backend"}})
	if err == nil {
		t.Fatal("Start with an unknown backend succeeded")
	}
	waitGoroutines(t, before)
}

// waitGoroutines waits until no more goroutines run than before, and
// fails with their stacks if some are still there after hangGuard.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
