package flow_test

import (
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// The loop counts its flows, and those of them parked.
func TestLoopCountsFlows(t *testing.T) {
	l := startLoop(t, loop.Config{})
	before := l.Stats()
	var ev flow.Event
	const n = 10
	fs := make([]*flow.Flow, n)
	for i := range fs {
		fs[i] = flow.Go(l, func(f *flow.Flow) {
			if err := ev.Wait(f.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor := func(what string, ok func(loop.Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(hangGuard)
		for !ok(l.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats %+v (before %+v)", what, l.Stats(), before)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("10 flows running, all parked", func(s loop.Stats) bool {
		return s.FlowsRunning == before.FlowsRunning+n && s.FlowsParked == before.FlowsParked+n
	})
	l.Post(ev.Set)
	for _, f := range fs {
		waitFlow(t, f)
	}
	waitFor("the flows gone", func(s loop.Stats) bool {
		return s.FlowsRunning == before.FlowsRunning && s.FlowsParked == before.FlowsParked
	})
}
