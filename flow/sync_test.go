package flow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// 100 flows increment a counter under a Mutex, sleeping while they hold
// it, so every Lock but the first parks: no increment is lost.
func TestMutexContention(t *testing.T) {
	l := startLoop(t, loop.Config{})
	var mu flow.Mutex
	count := 0
	fs := make([]*flow.Flow, 100)
	for i := range fs {
		fs[i] = flow.Go(l, func(f *flow.Flow) {
			for range 5 {
				if err := mu.Lock(f.Context()); err != nil {
					t.Error(err)
					return
				}
				v := count
				f.Sleep(0) // switch while holding the lock
				count = v + 1
				mu.Unlock()
			}
		})
	}
	for _, f := range fs {
		waitFlow(t, f)
	}
	if count != 500 {
		t.Errorf("count = %d, want 500", count)
	}
}

// Lock, Semaphore.Acquire, Queue.Get/Put, Event.Wait and Cond.Wait end
// with the context's error at its deadline, and with Canceled on Cancel.
func TestSyncDeadlines(t *testing.T) {
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		var mu flow.Mutex
		mu.Lock(f.Context())
		sem := flow.NewSemaphore(0)
		q := flow.NewQueue[int](1)
		var ev flow.Event
		cond := flow.NewCond(&mu)
		full := flow.NewQueue[int](1)
		full.Put(f.Context(), 1)
		calls := map[string]func(context.Context) error{
			"Mutex.Lock":        mu.Lock,
			"Semaphore.Acquire": sem.Acquire,
			"Queue.Get":         func(ctx context.Context) error { _, err := q.Get(ctx); return err },
			"Queue.Put":         func(ctx context.Context) error { return full.Put(ctx, 2) },
			"Event.Wait":        ev.Wait,
			"Cond.Wait":         cond.Wait,
			"Blocking": func(ctx context.Context) error {
				return flow.Blocking(ctx, func() error { time.Sleep(50 * time.Millisecond); return nil })
			},
		}
		for name, call := range calls {
			ctx, cancel := context.WithTimeout(f.Context(), time.Millisecond)
			if err := call(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s past deadline = %v, want DeadlineExceeded", name, err)
			}
			cancel()
		}
	})
	// Cancel from another goroutine reaches a parked Get.
	q := flow.NewQueue[int](1)
	parked := make(chan struct{})
	var err error
	g := flow.Go(l, func(f *flow.Flow) {
		close(parked)
		_, err = q.Get(f.Context())
	})
	within(t, parked, "the getter")
	g.Cancel()
	waitFlow(t, g)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get in a cancelled flow = %v, want Canceled", err)
	}
}

// A producer and consumers over a small Queue: every item arrives once.
func TestQueueProducerConsumer(t *testing.T) {
	l := startLoop(t, loop.Config{})
	q := flow.NewQueue[int](4)
	const n, consumers = 10000, 8
	sum := 0
	var wg flow.WaitGroup
	run(t, l, func(f *flow.Flow) {
		wg.Add(consumers)
		for range consumers {
			flow.Go(l, func(f *flow.Flow) {
				defer wg.Done()
				for {
					v, err := q.Get(f.Context())
					if err != nil {
						return
					}
					sum += v
				}
			})
		}
		for i := 1; i <= n; i++ {
			if err := q.Put(f.Context(), i); err != nil {
				t.Fatal(err)
			}
		}
		q.Close()
		wg.Wait(f.Context())
	})
	if want := n * (n + 1) / 2; sum != want {
		t.Errorf("sum = %d, want %d", sum, want)
	}
}

// A Group's first error cancels the other children and is what Wait
// returns; Semaphore bounds concurrency; Blocking runs off the loop.
func TestGroupSemaphoreBlocking(t *testing.T) {
	l := startLoop(t, loop.Config{})
	boom := errors.New("boom")
	run(t, l, func(f *flow.Flow) {
		g := flow.NewGroup(f)
		var cancelled int
		for range 5 {
			g.Go(func(f *flow.Flow) error {
				if err := f.Sleep(time.Hour); errors.Is(err, context.Canceled) {
					cancelled++
				}
				return nil
			})
		}
		g.Go(func(f *flow.Flow) error { f.Sleep(time.Millisecond); return boom })
		if err := g.Wait(f.Context()); err != boom {
			t.Errorf("Group.Wait = %v, want boom", err)
		}
		if cancelled != 5 {
			t.Errorf("%d children cancelled, want 5", cancelled)
		}

		sem := flow.NewSemaphore(3)
		active, peak := 0, 0
		g2 := flow.NewGroup(f)
		for range 20 {
			g2.Go(func(f *flow.Flow) error {
				if err := sem.Acquire(f.Context()); err != nil {
					return err
				}
				defer sem.Release()
				active++
				peak = max(peak, active)
				f.Sleep(time.Millisecond)
				active--
				return nil
			})
		}
		if err := g2.Wait(f.Context()); err != nil || peak != 3 {
			t.Errorf("Semaphore: Wait %v, peak %d; want nil, 3", err, peak)
		}

		onLoop := true
		err := flow.Blocking(f.Context(), func() error { onLoop = l.InLoop(); return nil })
		if err != nil || onLoop {
			t.Errorf("Blocking: %v, ran on the loop %v; want nil, false", err, onLoop)
		}
	})
}

// RunToEnd waits for its function even in a flow cancelled before or
// while it runs, and returns the function's error; Run in the same flow
// gives up at once.
func TestPoolRunToEnd(t *testing.T) {
	l := startLoop(t, loop.Config{})
	pool := flow.NewPool(2)
	release := make(chan struct{})
	started := make(chan struct{})
	cleanup := errors.New("clean-up result")
	var runErr, endErr error
	var ranToEnd bool
	g := flow.Go(l, func(f *flow.Flow) {
		endErr = pool.RunToEnd(f.Context(), func() error {
			close(started)
			<-release // the flow is cancelled meanwhile
			ranToEnd = true
			return cleanup
		})
		// Cancelled now: Run refuses to wait, RunToEnd still waits.
		runErr = pool.Run(f.Context(), func() error { return nil })
		if err := pool.RunToEnd(f.Context(), func() error { return nil }); err != nil {
			t.Errorf("RunToEnd in a cancelled flow = %v, want nil", err)
		}
	})
	within(t, started, "the clean-up")
	g.Cancel()
	close(release)
	waitFlow(t, g)
	if !ranToEnd || endErr != cleanup {
		t.Errorf("RunToEnd through a cancel: ran to its end %v, returned %v; want true, %v", ranToEnd, endErr, cleanup)
	}
	if !errors.Is(runErr, context.Canceled) {
		t.Errorf("Run in a cancelled flow = %v, want Canceled", runErr)
	}
}
