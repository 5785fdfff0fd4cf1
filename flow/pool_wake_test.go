package flow

import (
	"context"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// TestPoolWakesAWorkerPerJob: two jobs queued while one worker waits
// (before it has woken for the first) both start: the second gets a new
// worker, though the first one's worker is the only one free and the
// jobs never end. A worker woken for one job once counted as free for
// the next, which then waited for good.
func TestPoolWakesAWorkerPerJob(t *testing.T) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatalf("loop.Start: %v", err)
	}
	defer l.Close()
	// A flow that never parks in the pool: the jobs' results, handed
	// back to it, are dropped.
	hold := make(chan struct{})
	defer close(hold)
	owner := make(chan *Flow, 1)
	Go(l, func(f *Flow) {
		owner <- f
		_ = Blocking(f.Context(), func() error { <-hold; return nil })
	})
	f := <-owner

	p := NewPool(3)
	started := make(chan int, 3)
	release := make(chan struct{})
	defer close(release)
	newJob := func(i int) *job {
		j := &job{f: f, seq: ^uint32(0), fn: func(context.Context) error {
			started <- i
			if i > 0 {
				<-release // as a command that runs on
			}
			return nil
		}}
		j.ctx, j.stop = context.WithCancel(context.Background())
		return j
	}
	// One worker, waiting once its first job is done.
	p.submit(newJob(0))
	deadline := time.Now().Add(20 * time.Second)
	<-started
	for {
		p.mu.Lock()
		idle := p.idle
		p.mu.Unlock()
		if idle == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pool's first worker never waited for a job")
		}
		time.Sleep(time.Millisecond)
	}
	// Both queued under one hold of the lock: the waiting worker cannot
	// have woken for the first before the second comes.
	p.mu.Lock()
	p.queue(newJob(1))
	p.queue(newJob(2))
	p.mu.Unlock()
	for n := 0; n < 2; n++ {
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of 2 jobs started with a worker free for each, after 20 s", n)
		}
	}
}
