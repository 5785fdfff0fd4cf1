package flow_test

import (
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// The three switch benchmarks run side by side, so their ratios compare
// like with like on one machine. One op is a round trip: control goes
// from one party to the other and back.
//
//	go test -run '^$' -bench 'FlowSwitch|FlowYield|ChanPingPong|IterPull' -benchmem -count 5 ./flow
//
// BenchmarkSwitchRatio is the one that decides the flow switch target.

// Two flows on one loop ping-pong through a pair of Events: each op is two
// parks and two resumes, each a coroutine switch through the scheduler.
func BenchmarkFlowSwitch(b *testing.B) {
	l := startLoop(b, loop.Config{})
	var ping, pong flow.Event
	n := b.N
	started := make(chan struct{})
	var pinger *flow.Flow
	ponger := flow.Go(l, func(f *flow.Flow) {
		ctx := f.Context()
		for range n {
			if pong.Wait(ctx) != nil {
				return
			}
			pong.Clear()
			ping.Set()
		}
	})
	pinger = flow.Go(l, func(f *flow.Flow) {
		ctx := f.Context()
		<-started
		b.ResetTimer()
		for range n {
			pong.Set()
			if ping.Wait(ctx) != nil {
				return
			}
			ping.Clear()
		}
		b.StopTimer()
	})
	close(started)
	waitFlow(b, pinger)
	waitFlow(b, ponger)
}

// Two flows hand control back and forth with Yield: a switch, park and
// resume, and nothing else.
func BenchmarkFlowYield(b *testing.B) {
	l := startLoop(b, loop.Config{})
	b.ResetTimer()
	yieldPingPong(b, l, b.N)
}

// Two goroutines ping-pong over unbuffered channels: the scheduler's
// handoff that flows are measured against.
func BenchmarkChanPingPong(b *testing.B) {
	chanPingPong(b.N)
}

// The flow switch target (a Yield round trip at most a third of a channel
// ping-pong) measured so that the host's phases cannot decide it: batches
// of the two alternate, and the reported figures are medians over the
// batches, the ratio taken per pair of neighbouring batches. On a shared
// VM either benchmark alone moves by a quarter between runs.
//
//	go test -run '^$' -bench SwitchRatio -benchtime 5s ./flow
func BenchmarkSwitchRatio(b *testing.B) {
	const batch = 50_000
	l := startLoop(b, loop.Config{})
	var flowNs, chanNs, ratios []float64
	for range b.N {
		y := float64(yieldPingPong(b, l, batch).Nanoseconds()) / batch
		c := float64(chanPingPong(batch).Nanoseconds()) / batch
		flowNs, chanNs, ratios = append(flowNs, y), append(chanNs, c), append(ratios, y/c)
	}
	b.ReportMetric(median(flowNs), "yield-ns/rt")
	b.ReportMetric(median(chanNs), "chan-ns/rt")
	b.ReportMetric(median(ratios), "yield/chan")
	b.ReportMetric(0, "ns/op") // an op is a pair of batches: its time says nothing
}

// yieldPingPong runs n Yield round trips between two flows on l and
// returns how long they took, timed inside the flow.
func yieldPingPong(tb testing.TB, l *loop.Loop, n int) time.Duration {
	var took time.Duration
	started := make(chan struct{})
	other := flow.Go(l, func(f *flow.Flow) {
		<-started
		yieldTimes(f, n)
	})
	timed := flow.Go(l, func(f *flow.Flow) {
		<-started
		took = yieldTimes(f, n)
	})
	close(started)
	waitFlow(tb, timed)
	waitFlow(tb, other)
	return took
}

// yieldTimes yields n times and returns how long that took. A function of
// its own, so that Yield is inlined into it as into a flow's code: the
// compiler does not inline into closures that a factory's inlining
// copied, and a frame more between the flow and its switch costs
// nanoseconds per switch.
func yieldTimes(f *flow.Flow, n int) time.Duration {
	t0 := time.Now()
	for range n {
		if f.Yield() != nil {
			break
		}
	}
	return time.Since(t0)
}

// chanPingPong runs n round trips between two goroutines over unbuffered
// channels and returns how long they took.
func chanPingPong(n int) time.Duration {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	t0 := time.Now()
	for range n {
		ping <- struct{}{}
		<-pong
	}
	took := time.Since(t0)
	close(ping)
	return took
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// A bare iter.Pull round trip (next, then the yield back): the floor.
func BenchmarkIterPull(b *testing.B) {
	next, stop := iter.Pull(func(yield func(struct{}) bool) {
		for yield(struct{}{}) {
		}
	})
	defer stop()
	for range b.N {
		next()
	}
}
