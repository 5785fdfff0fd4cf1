package flow_test

import (
	"iter"
	"testing"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// The three switch benchmarks run side by side, so their ratios compare
// like with like on one machine. One op is a round trip: control goes
// from one party to the other and back.
//
//	go test -run '^$' -bench 'FlowSwitch|FlowYield|ChanPingPong|IterPull' -benchmem -count 5 ./flow

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
	n := b.N
	started := make(chan struct{})
	other := flow.Go(l, func(f *flow.Flow) {
		<-started
		for range n {
			if f.Yield() != nil {
				return
			}
		}
	})
	timed := flow.Go(l, func(f *flow.Flow) {
		<-started
		b.ResetTimer()
		for range n {
			if f.Yield() != nil {
				return
			}
		}
		b.StopTimer()
	})
	close(started)
	waitFlow(b, timed)
	waitFlow(b, other)
}

// Two goroutines ping-pong over unbuffered channels: the scheduler's
// handoff that flows are measured against.
func BenchmarkChanPingPong(b *testing.B) {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	b.ResetTimer()
	for range b.N {
		ping <- struct{}{}
		<-pong
	}
	b.StopTimer()
	close(ping)
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
