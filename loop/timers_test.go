package loop_test

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// Thousands of timers with random deadlines, many equal, fire in deadline
// order, and equal deadlines in the order they were armed.
func TestTimersFireInDeadlineOrder(t *testing.T) {
	l := startLoop(t, loop.Config{})
	const n = 5000
	rng := rand.New(rand.NewPCG(1, 2))
	delays := make([]time.Duration, n)
	for i := range delays {
		// 100 distinct deadlines over 5ms: about 50 timers share each.
		delays[i] = time.Duration(rng.IntN(100)) * 50 * time.Microsecond
	}
	var fired []int // loop only
	done := make(chan struct{})
	runOn(t, l, func() {
		for i, d := range delays {
			l.CallLater(d, func() {
				fired = append(fired, i)
				if len(fired) == n {
					close(done)
				}
			})
		}
	})
	wait(t, done, "all timers firing")
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	slices.SortStableFunc(want, func(a, b int) int { return int(delays[a] - delays[b]) })
	runOn(t, l, func() {
		for i := range want {
			if fired[i] != want[i] {
				a, b := fired[i], want[i]
				t.Fatalf("position %d: timer %d (delay %v) fired where timer %d (delay %v) belongs", i, a, delays[a], b, delays[b])
			}
		}
	})
}

// Cancelled timers never fire; cancelling a fired, cancelled or zero timer
// is a no-op that reports false.
func TestTimerCancel(t *testing.T) {
	l := startLoop(t, loop.Config{})
	const n = 999
	fired := make([]int, n) // loop only
	timers := make([]loop.Timer, n)
	done := make(chan struct{})
	runOn(t, l, func() {
		for i := range timers {
			timers[i] = l.CallLater(time.Duration(i%10)*100*time.Microsecond, func() { fired[i]++ })
		}
		for i := 0; i < n; i += 3 {
			if !l.CancelTimer(timers[i]) {
				t.Errorf("CancelTimer(%d) of an armed timer = false", i)
			}
			if l.CancelTimer(timers[i]) {
				t.Errorf("second CancelTimer(%d) = true", i)
			}
		}
		if l.CancelTimer(0) {
			t.Errorf("CancelTimer(0) = true")
		}
		// Armed last, with the longest delay: when it runs, all others have.
		l.CallLater(time.Millisecond, func() { close(done) })
	})
	wait(t, done, "the last timer")
	runOn(t, l, func() {
		for i := range timers {
			want := 1
			if i%3 == 0 {
				want = 0
			}
			if fired[i] != want {
				t.Errorf("timer %d fired %d times, want %d", i, fired[i], want)
			}
			if l.CancelTimer(timers[i]) {
				t.Errorf("CancelTimer(%d) after it fired or was cancelled = true", i)
			}
		}
		if n := l.ArmedTimers(); n != 0 {
			t.Errorf("%d timers still armed", n)
		}
	})
}

// A fired timer's record is reused; the old Timer value must not cancel
// the new timer that took its place.
func TestTimerStaleHandleAfterReuse(t *testing.T) {
	l := startLoop(t, loop.Config{})
	done := make(chan bool)
	runOn(t, l, func() {
		var old loop.Timer
		old = l.CallLater(0, func() {
			l.CallLater(0, func() { done <- true }) // takes old's record
			if l.CancelTimer(old) {
				t.Errorf("the fired timer's handle cancelled something")
			}
		})
	})
	wait(t, done, "the re-armed timer")
}

// A timer may re-arm itself from its own callback, even with no delay,
// without holding the loop: posted work still runs between firings.
func TestTimerRearmFromCallback(t *testing.T) {
	l := startLoop(t, loop.Config{})
	stop := false // loop only
	count := 0
	stopped := make(chan int)
	var tick func()
	tick = func() {
		count++
		if stop {
			stopped <- count
			return
		}
		l.CallLater(0, tick)
	}
	runOn(t, l, func() { l.CallLater(0, tick) })
	waitFor(t, l, "a few re-armed firings", func() bool { return count >= 100 })
	if err := l.Post(func() { stop = true }); err != nil {
		t.Fatal(err)
	}
	if n := wait(t, stopped, "the chain to notice the posted stop"); n < 100 {
		t.Errorf("chain stopped after %d firings, want at least 100", n)
	}
}

// A deadline in the past runs on the next iteration.
func TestCallAtInThePast(t *testing.T) {
	l := startLoop(t, loop.Config{})
	done := make(chan string, 3)
	runOn(t, l, func() {
		l.CallAt(l.Now().Add(-time.Hour), func() { done <- "an hour ago" })
		l.CallAt(time.Time{}, func() { done <- "year 1" })
		l.CallLater(-time.Second, func() { done <- "negative delay" })
	})
	for range 3 {
		t.Log("fired:", wait(t, done, "a timer in the past"))
	}
}

// Loop time moves forward and a timer's callback sees at least its deadline.
func TestNowAtTimerDeadline(t *testing.T) {
	l := startLoop(t, loop.Config{})
	type span struct{ armed, ran time.Time }
	got := make(chan span)
	runOn(t, l, func() {
		armed := l.Now()
		l.CallLater(2*time.Millisecond, func() { got <- span{armed, l.Now()} })
	})
	s := wait(t, got, "the timer")
	if d := s.ran.Sub(s.armed); d < 2*time.Millisecond {
		t.Errorf("timer ran at loop time +%v, before its deadline +2ms", d)
	}
}

// Arming and cancelling a timer with a pre-built func allocates nothing.
func TestTimerArmCancelAllocs(t *testing.T) {
	l := startLoop(t, loop.Config{})
	fn := func() {}
	runOn(t, l, func() {
		for range 1024 { // background timers, so the heap has depth
			l.CallLater(time.Hour, fn)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			tm := l.CallLater(time.Minute, fn)
			l.CancelTimer(tm)
		})
		if allocs != 0 {
			t.Errorf("arm+cancel: %v allocations, want 0", allocs)
		}
	})
}

// How many bytes one armed timer costs: its heap entry and slab record,
// plus the slack of slices grown by append.
func TestTimerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("arms a million timers")
	}
	l := startLoop(t, loop.Config{})
	const n = 1 << 20
	fn := func() {}
	var before, after runtime.MemStats
	runOn(t, l, func() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			l.CallLater(time.Hour, fn)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
	})
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d armed timers: %.1f bytes each (16-byte heap entry + 16-byte record, plus append slack)", n, per)
	if per > 64 {
		t.Errorf("an armed timer costs %.1f bytes, want at most 64", per)
	}
}
