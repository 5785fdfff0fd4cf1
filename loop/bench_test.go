package loop_test

import (
	"testing"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// The loop runs on its own goroutine, so each benchmark either drives it
// with a chain of work that runs b.N times on the loop and then signals
// the benchmark goroutine (the signal costs once per run, not per op), or
// posts from other goroutines with one acknowledgement per batch, so that
// the queue stays bounded and the figure is throughput, not queue growth.
//
//	go test -run '^$' -bench . -benchmem ./loop

// batch is how many operations share one acknowledgement or one iteration.
const batch = 1024

// One nop per iteration: submit from the callback, flush and wait in one
// system call, dispatch to the callback. The full round trip of the
// completion-port model on a loop.
func BenchmarkSubmitNop(b *testing.B) {
	l := startLoop(b, loop.Config{})
	done := make(chan struct{})
	var k port.Key
	n, total := 0, b.N
	cb := func(c port.Completion) {
		n++
		if n == total {
			close(done)
			return
		}
		if err := l.Submit(k, port.Nop()); err != nil {
			b.Error(err)
			close(done)
		}
	}
	runOn(b, l, func() { k, _ = l.Register(cb) })
	b.ReportAllocs()
	b.ResetTimer()
	l.Post(func() { l.Submit(k, port.Nop()) })
	<-done
	b.StopTimer()
}

// Arm a timer and cancel it, with 1024 other timers armed so the heap has
// depth; runs entirely on the loop.
func BenchmarkTimerArmCancel(b *testing.B) {
	l := startLoop(b, loop.Config{})
	fn := func() {}
	runOn(b, l, func() {
		for i := range batch {
			l.CallLater(time.Hour+time.Duration(i), fn)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t := l.CallLater(time.Minute+time.Duration(i&1023), fn)
			l.CancelTimer(t)
		}
		b.StopTimer()
	})
}

// Arm and fire: batches of 1024 timers due at once, the last of each batch
// arming the next, so one iteration (one Wait) is shared by 1024 firings.
func BenchmarkTimerFire(b *testing.B) {
	l := startLoop(b, loop.Config{})
	done := make(chan struct{})
	armed, fired, total := 0, 0, b.N
	var fire, arm func()
	fire = func() {
		fired++
		if fired == total {
			close(done)
		} else if fired == armed {
			arm()
		}
	}
	arm = func() {
		k := min(batch, total-armed)
		for range k {
			l.CallLater(0, fire)
		}
		armed += k
	}
	b.ReportAllocs()
	b.ResetTimer()
	l.Post(arm)
	<-done
	b.StopTimer()
}

// Post from one other goroutine; one acknowledgement per 1024 posts.
func BenchmarkPost(b *testing.B) {
	l := startLoop(b, loop.Config{})
	count := 0 // loop only
	inc := func() { count++ }
	ack := make(chan struct{}, 1)
	flush := func() { ack <- struct{}{} }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l.Post(inc)
		if i%batch == batch-1 {
			l.Post(flush)
			<-ack
		}
	}
	l.Post(flush)
	<-ack
	b.StopTimer()
}

// Post from GOMAXPROCS goroutines at once (RunParallel), each with its own
// acknowledgement per 1024 posts.
func BenchmarkPostParallel(b *testing.B) {
	l := startLoop(b, loop.Config{})
	count := 0 // loop only
	inc := func() { count++ }
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ack := make(chan struct{}, 1)
		flush := func() { ack <- struct{}{} }
		i := 0
		for pb.Next() {
			l.Post(inc)
			if i++; i%batch == 0 {
				l.Post(flush)
				<-ack
			}
		}
		l.Post(flush)
		<-ack
	})
	b.StopTimer()
}

// CallSoon on the loop: 1024 functions per iteration, each queued and run.
func BenchmarkCallSoon(b *testing.B) {
	l := startLoop(b, loop.Config{})
	done := make(chan struct{})
	count, queued, total := 0, 0, b.N
	inc := func() { count++ }
	finish := func() { close(done) }
	var step func()
	step = func() {
		k := min(batch, total-queued)
		for range k {
			l.CallSoon(inc)
		}
		if queued += k; queued < total {
			l.CallSoon(step)
		} else {
			l.CallSoon(finish)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	l.Post(step)
	<-done
	b.StopTimer()
}

//go:noinline
func nothing() {}

// What the panic guard costs per function: the loop's way of running a
// batch of functions, without and with recovery, side by side.
func BenchmarkRecover(b *testing.B) {
	l := startLoop(b, loop.Config{})
	fns := make([]func(), batch)
	for _, run := range []struct {
		name string
		fn   func([]func())
	}{{"bare", l.RunFuncsBare}, {"recover", l.RunFuncs}} {
		b.Run(run.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i += batch {
				for j := range fns {
					fns[j] = nothing
				}
				run.fn(fns[:min(batch, b.N-i)])
			}
		})
	}
}

// What InLoop costs off the loop (the common Transport.Write check), by
// getm and by the thread-id fallback, side by side.
func BenchmarkInLoop(b *testing.B) {
	l := startLoop(b, loop.Config{})
	b.Run("getm", func(b *testing.B) {
		for range b.N {
			if l.InLoop() {
				b.Fatal("on the loop")
			}
		}
	})
	b.Run("gettid", func(b *testing.B) {
		for range b.N {
			if l.OnLoopThread() {
				b.Fatal("on the loop")
			}
		}
	})
}
