package flow_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// Yield runs the flows ready at the time before the caller continues, in
// queue order, round after round: three flows yielding in turn interleave
// strictly. A flow alone returns from Yield at once.
func TestYieldInterleaves(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var trace []int
	// Started on the loop, all three are queued before the first runs.
	started := make(chan []*flow.Flow, 1)
	if err := l.Post(func() {
		var flows []*flow.Flow
		for i := range 3 {
			flows = append(flows, flow.Go(l, func(f *flow.Flow) {
				for range 4 {
					trace = append(trace, i)
					if err := f.Yield(); err != nil {
						t.Errorf("Yield: %v", err)
					}
				}
			}))
		}
		started <- flows
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range within(t, started, "the flows' start") {
		waitFlow(t, f)
	}
	want := []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}
	if !slices.Equal(trace, want) {
		t.Errorf("order of turns = %v, want %v", trace, want)
	}
	run(t, l, func(f *flow.Flow) {
		for range 3 {
			if err := f.Yield(); err != nil {
				t.Errorf("Yield alone: %v", err)
			}
		}
	})
}

// A flow that only computes and yields does not starve the loop: a timer
// and work posted from another goroutine run while it spins, and its
// spinning ends when they tell it to.
func TestYieldLetsLoopRun(t *testing.T) {
	l := startLoop(t, loop.Config{})
	timerFired, posted := false, false
	f := flow.Go(l, func(f *flow.Flow) {
		l.CallLater(0, func() { timerFired = true })
		go func() { _ = l.Post(func() { posted = true }) }()
		for !timerFired || !posted {
			if err := f.Yield(); err != nil {
				t.Errorf("Yield: %v", err)
				return
			}
		}
	})
	waitFlow(t, f)
}

// Yield fails on a cancelled flow, off a flow, and from a flow that is
// not the one it names.
func TestYieldErrors(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var cancelled, other error
	first := flow.Go(l, func(f *flow.Flow) {
		f.Cancel()
		cancelled = f.Yield()
	})
	waitFlow(t, first)
	run(t, l, func(f *flow.Flow) { other = first.Yield() })
	if !errors.Is(cancelled, context.Canceled) {
		t.Errorf("Yield on a cancelled flow = %v, want context.Canceled", cancelled)
	}
	if !errors.Is(other, flow.ErrNotInFlow) {
		t.Errorf("Yield of another flow = %v, want ErrNotInFlow", other)
	}
	if err := first.Yield(); !errors.Is(err, flow.ErrNotInFlow) {
		t.Errorf("Yield from a goroutine = %v, want ErrNotInFlow", err)
	}
}
