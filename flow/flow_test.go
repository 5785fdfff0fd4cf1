package flow_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// A flow is on its loop: InLoop holds inside it (transports act at once
// there) and not on a plain goroutine, while the flow runs and while it
// is parked.
func TestInLoopInFlow(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var first, afterSleep bool
	parked := make(chan struct{})
	release := make(chan struct{})
	f := flow.Go(l, func(f *flow.Flow) {
		first = l.InLoop()
		close(parked)
		for {
			select {
			case <-release:
				afterSleep = l.InLoop()
				return
			default:
			}
			f.Sleep(time.Millisecond)
		}
	})
	within(t, parked, "the flow start")
	if l.InLoop() {
		t.Error("InLoop on the test goroutine = true while a flow is live")
	}
	close(release)
	waitFlow(t, f)
	if !first || !afterSleep {
		t.Errorf("InLoop in a flow: at start %v, after Sleep %v; want true", first, afterSleep)
	}
}

// Many flows sleeping different times interleave on one loop and each
// wakes after its own sleep.
func TestManySleepers(t *testing.T) {
	l := startLoop(t, loop.Config{})
	const n = 1000
	var order []int
	var mu sync.Mutex
	flows := make([]*flow.Flow, n)
	for i := range n {
		flows[i] = flow.Go(l, func(f *flow.Flow) {
			for range 3 {
				if err := f.Sleep(time.Duration(i%7) * time.Millisecond); err != nil {
					t.Error(err)
				}
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
	}
	for _, f := range flows {
		waitFlow(t, f)
	}
	if len(order) != n {
		t.Fatalf("%d flows finished, want %d", len(order), n)
	}
}

// A panic in a flow is reported with its stack through the loop's
// OnPanic, ends that flow (Wait returns a *PanicError), and the loop and
// its other flows go on.
func TestFlowPanic(t *testing.T) {
	reports := make(chan string, 1)
	l := startLoop(t, loop.Config{OnPanic: func(v any, stack []byte) {
		reports <- string(stack)
	}})
	bad := flow.Go(l, func(f *flow.Flow) {
		f.Sleep(0)
		panicInFlow()
	})
	select {
	case <-bad.Done():
	case <-time.After(hangGuard):
		t.Fatal("panicking flow did not end")
	}
	var pe *flow.PanicError
	if err := bad.Wait(); !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("Wait = %v, want a *PanicError with value boom", err)
	}
	stack := within(t, reports, "the panic report")
	if !strings.Contains(stack, "panicInFlow") {
		t.Errorf("reported stack does not show the panicking function:\n%s", stack)
	}
	run(t, l, func(f *flow.Flow) { f.Sleep(time.Millisecond) })
}

func panicInFlow() { panic("boom") }

// Cancel ends a parked Sleep with context.Canceled, and every later
// blocking call too; the flow's context is cancelled.
func TestCancelSleep(t *testing.T) {
	l := startLoop(t, loop.Config{})
	errs := make(chan error, 2)
	started := make(chan struct{})
	f := flow.Go(l, func(f *flow.Flow) {
		ctx := f.Context()
		close(started)
		errs <- flow.Sleep(ctx, time.Hour)
		errs <- flow.Sleep(ctx, 0)
		if ctx.Err() == nil {
			t.Error("flow context not cancelled")
		}
	})
	within(t, started, "flow start")
	f.Cancel()
	for range 2 {
		if err := within(t, errs, "Sleep's return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep after Cancel = %v, want context.Canceled", err)
		}
	}
	waitFlow(t, f)
}

// A context deadline ends Sleep with DeadlineExceeded.
func TestSleepDeadline(t *testing.T) {
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		ctx, cancel := context.WithTimeout(f.Context(), time.Millisecond)
		defer cancel()
		if err := flow.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Sleep past deadline = %v, want DeadlineExceeded", err)
		}
		ctx2, cancel2 := context.WithCancel(f.Context())
		go func() { time.Sleep(time.Millisecond); cancel2() }()
		if err := flow.Sleep(ctx2, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep with a cancelled derived context = %v, want Canceled", err)
		}
	})
}

// Join from another flow parks until the joined flow ends; Wait from a
// goroutine blocks.
func TestJoin(t *testing.T) {
	l := startLoop(t, loop.Config{})
	other := startLoop(t, loop.Config{})
	child := flow.Go(l, func(f *flow.Flow) { f.Sleep(2 * time.Millisecond) })
	var sameLoop, crossLoop error = errors.New("not run"), errors.New("not run")
	a := flow.Go(l, func(f *flow.Flow) { sameLoop = child.Join(f.Context()) })
	b := flow.Go(other, func(f *flow.Flow) { crossLoop = child.Join(f.Context()) })
	waitFlow(t, a)
	waitFlow(t, b)
	if sameLoop != nil || crossLoop != nil {
		t.Errorf("Join: same loop %v, other loop %v; want nil", sameLoop, crossLoop)
	}
	if err := child.Wait(); err != nil {
		t.Errorf("Wait from a goroutine = %v", err)
	}
}

// NoSwitch panics when the block parks, and lets a non-blocking block run.
func TestNoSwitch(t *testing.T) {
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		ran := false
		flow.NoSwitch(f, func() { ran = true })
		if !ran {
			t.Error("NoSwitch did not run its block")
		}
		defer func() {
			if v := recover(); v == nil {
				t.Error("Sleep inside NoSwitch did not panic")
			}
		}()
		flow.NoSwitch(f, func() { f.Sleep(time.Millisecond) })
	})
}

// Closing the loop cancels its parked flows, which then end.
func TestCloseEndsFlows(t *testing.T) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ev flow.Event
	fs := []*flow.Flow{
		flow.Go(l, func(f *flow.Flow) { f.Sleep(time.Hour) }),
		flow.Go(l, func(f *flow.Flow) { ev.Wait(f.Context()) }),
	}
	run(t, l, func(f *flow.Flow) { f.Sleep(time.Millisecond) })
	l.Close()
	for _, f := range fs {
		within(t, f.Done(), "a parked flow's end at Close")
	}
	if err := flow.Go(l, func(*flow.Flow) {}).Wait(); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Go on a closed loop: Wait = %v, want loop.ErrClosed", err)
	}
}

// Flows admitted but never yet run when the loop stops still end, and
// leave no coroutine behind: a flow's coroutine is made when it is
// admitted, before its first turn.
func TestCloseEndsFlowsNotYetRun(t *testing.T) {
	before := runtime.NumGoroutine()
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	made := make(chan []*flow.Flow, 1)
	slept := make([]error, 50)
	if err := l.Post(func() {
		var fs []*flow.Flow
		for i := range slept {
			fs = append(fs, flow.Go(l, func(f *flow.Flow) { slept[i] = f.Sleep(time.Hour) }))
		}
		l.Stop() // in the same turn: none of them has run
		made <- fs
	}); err != nil {
		t.Fatal(err)
	}
	fs := within(t, made, "the flows' admission")
	l.Close()
	for i, f := range fs {
		within(t, f.Done(), "the end of a flow that never ran")
		if err := slept[i]; !errors.Is(err, loop.ErrClosed) && !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep in a flow first run at Close = %v, want loop.ErrClosed or context.Canceled", err)
		}
	}
	deadline := time.Now().Add(hangGuard)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before the loop started", n, before)
	}
}
