package loop_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// Functions posted by 64 goroutines all run, each goroutine's in the order
// it posted them.
func TestPostFromManyGoroutinesKeepsOrder(t *testing.T) {
	l := startLoop(t, loop.Config{})
	const posters, each = 64, 1000
	got := make([][]int, posters) // loop only
	var wg sync.WaitGroup
	for p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.Post(func() { got[p] = append(got[p], i) }); err != nil {
					t.Errorf("Post: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	runOn(t, l, func() {
		for p, seq := range got {
			if len(seq) != each {
				t.Errorf("poster %d: %d functions ran, want %d", p, len(seq), each)
				continue
			}
			for i, v := range seq {
				if v != i {
					t.Errorf("poster %d: position %d ran function %d", p, i, v)
					break
				}
			}
		}
	})
}

// Posts made while the loop is busy wake nothing: the loop will look at
// the queue before it sleeps. All of them run within a few iterations.
func TestPostWhileBusyDoesNotWake(t *testing.T) {
	l := startLoop(t, loop.Config{})
	entered, gate := make(chan struct{}), make(chan struct{})
	var it0 uint64
	if err := l.Post(func() { it0 = l.Iterations(); close(entered); <-gate }); err != nil {
		t.Fatal(err)
	}
	wait(t, entered, "the blocking function")
	wakes0 := l.Wakes()
	const burst = 1000
	ran := 0 // loop only
	for range burst {
		if err := l.Post(func() { ran++ }); err != nil {
			t.Fatal(err)
		}
	}
	if w := l.Wakes() - wakes0; w != 0 {
		t.Errorf("%d wake-ups for posts to a busy loop, want 0", w)
	}
	done := make(chan uint64)
	l.Post(func() { done <- l.Iterations() })
	close(gate)
	it1 := wait(t, done, "the burst")
	runOn(t, l, func() {
		if ran != burst {
			t.Errorf("%d of %d posted functions ran", ran, burst)
		}
	})
	// Taken at the end of the blocked iteration, run at the next one.
	if it1-it0 > 2 {
		t.Errorf("the burst took %d iterations after the busy one, want at most 2", it1-it0)
	}
}

// Bursts of posts to a sleeping loop cost at most one wake-up per sleep,
// the loop turns no more often than functions arrive, and once the posts
// stop it sleeps rather than spins.
func TestPostWakeupsCoalesce(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var it0, it1, it2 uint64
	runOn(t, l, func() { it0 = l.Iterations() })
	wakes0 := l.Wakes()
	const bursts, burst = 50, 200
	count := 0 // loop only
	for range bursts {
		for range burst {
			if err := l.Post(func() { count++ }); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Microsecond) // let the loop go back to sleep
	}
	runOn(t, l, func() { it1 = l.Iterations() })
	wakes := l.Wakes() - wakes0
	turns := it1 - it0
	t.Logf("%d posts in %d bursts: %d wake-ups, %d iterations", bursts*burst, bursts, wakes, turns)
	if turns > bursts*burst/2 {
		t.Errorf("%d iterations for %d posts: posts are not batched", turns, bursts*burst)
	}
	if wakes > turns+1 {
		t.Errorf("%d wake-ups but only %d iterations: wake-ups leak", wakes, turns)
	}
	// Idle now: a leaked wake-up costs at most one extra turn; a spinning
	// loop would turn thousands of times while we look away.
	time.Sleep(20 * time.Millisecond)
	runOn(t, l, func() { it2 = l.Iterations() })
	if idle := it2 - it1; idle > 4 {
		t.Errorf("idle loop turned %d times (only our probe should count)", idle)
	}
	runOn(t, l, func() {
		if count != bursts*burst {
			t.Errorf("%d of %d posted functions ran", count, bursts*burst)
		}
	})
}

// Functions queued with CallSoon run in order, on a later iteration than
// the one that queued them, and before posted functions taken later.
func TestCallSoonOrderAndNextIteration(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var order []int
	var queuedAt, ranAt uint64
	done := make(chan struct{})
	runOn(t, l, func() {
		queuedAt = l.Iterations()
		for i := range 5 {
			l.CallSoon(func() {
				order = append(order, i)
				ranAt = l.Iterations()
			})
		}
		l.CallSoon(func() { close(done) })
	})
	wait(t, done, "the queued functions")
	runOn(t, l, func() {
		for i, v := range order {
			if v != i {
				t.Fatalf("CallSoon order %v", order)
			}
		}
		if len(order) != 5 {
			t.Fatalf("%d of 5 ran", len(order))
		}
		if ranAt <= queuedAt {
			t.Errorf("queued on iteration %d, ran on %d: want a later iteration", queuedAt, ranAt)
		}
	})
}
