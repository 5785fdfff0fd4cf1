package flow

import (
	"context"
	"sync"
)

// DefaultWorkers is the size of the pool Blocking uses.
const DefaultWorkers = 16

// Pool runs functions that would block an OS thread (cgo, the system
// resolver, file systems without io_uring support) on a bounded set of
// worker goroutines, so that a loop's thread never blocks. Go gives each
// worker blocked in a system call or cgo its own thread; the bound is what
// keeps a burst from making thousands of them. Safe from any goroutine.
type Pool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	jobs    []*job
	workers int
	idle    int
	limit   int
}

// NewPool returns a pool of at most n workers, started as work arrives.
func NewPool(n int) *Pool {
	p := &Pool{limit: max(n, 1)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

var defaultPool = NewPool(DefaultWorkers)

// SetDefaultWorkers sets the bound of the pool Blocking uses; call it
// before flows use Blocking.
func SetDefaultWorkers(n int) { defaultPool = NewPool(n) }

// job is one function on its way through the pool and back to its flow.
type job struct {
	fn   func(context.Context) error
	drop func() // undoes fn's effect if the flow stopped waiting
	ctx  context.Context
	stop context.CancelFunc
	err  error
	f    *Flow
	seq  uint32
	// RunToEnd's: its flow waits, whatever ends its parks, until ended
	// (loop only).
	toEnd, ended bool
}

// Blocking runs fn on the default pool. In a flow it parks the flow until
// fn returns; if ctx ends first, Blocking returns its error at once and
// fn's result is dropped (fn goes on running: Go cannot stop a blocked
// thread). From a plain goroutine it just calls fn.
func Blocking(ctx context.Context, fn func() error) error {
	return defaultPool.Run(ctx, fn)
}

// Run is Blocking on p.
func (p *Pool) Run(ctx context.Context, fn func() error) error {
	f := caller(ctx, nil)
	if f == nil {
		return fn()
	}
	return p.run(f, ctx, func(context.Context) error { return fn() }, nil)
}

// RunToEnd is Run for clean-up that must finish: neither ctx nor the
// flow's cancellation ends the wait, so that a flow cancelled in the
// middle of a call can still undo what the call left behind before it
// goes on (a command's kill on a remote host, after the cancel that asked
// for it). fn must bound its own time. ctx only names the flow.
func (p *Pool) RunToEnd(ctx context.Context, fn func() error) error {
	f := caller(ctx, nil)
	if f == nil {
		return fn()
	}
	_ = f.check(noCtx, false) // a NoSwitch block must not park
	j := &job{fn: func(context.Context) error { return fn() }, f: f, toEnd: true}
	j.ctx, j.stop = context.WithCancel(context.Background())
	p.submit(j)
	for !j.ended {
		// A Cancel ends the park early, but not the job: park again.
		f.w.reset()
		_ = f.park(noCtx, nil, uncancellable)
	}
	j.stop()
	return j.err
}

// run parks f while fn runs on a worker. fn's context ends when the flow
// stops waiting; drop, if set, runs on f's loop when a result comes back
// to a flow that no longer waits for it.
func (p *Pool) run(f *Flow, ctx context.Context, fn func(context.Context) error, drop func()) error {
	if err := f.check(ctx, true); err != nil {
		return err
	}
	j := &job{fn: fn, drop: drop, f: f}
	j.ctx, j.stop = context.WithCancel(context.Background())
	f.w.reset()
	j.seq = f.seq + 1 // the park below
	p.submit(j)
	err := f.park(ctx, nil, cancellable)
	j.stop()
	return err
}

func (p *Pool) submit(j *job) {
	p.mu.Lock()
	p.queue(j)
	p.mu.Unlock()
}

// queue adds j to the jobs and wakes or starts a worker for it; p.mu is
// held. idle counts the workers waiting that no job has woken yet: a
// worker woken for one job is not counted on for the next one queued
// before it runs, or that job would wait, with a worker free, until some
// other worker's job ends (for good, if they all wait on commands that
// run as long as the job's own flow waits).
func (p *Pool) queue(j *job) {
	p.jobs = append(p.jobs, j)
	if p.idle > 0 {
		p.idle--
		p.cond.Signal()
	} else if p.workers < p.limit {
		p.workers++
		go p.work()
	}
}

func (p *Pool) work() {
	p.mu.Lock()
	for {
		for len(p.jobs) == 0 {
			// Counted idle until queue wakes it (a worker back from its
			// job may have taken the job it was woken for: it waits again).
			p.idle++
			p.cond.Wait()
		}
		j := p.jobs[0]
		p.jobs[0] = nil
		p.jobs = p.jobs[1:]
		p.mu.Unlock()
		j.err = j.fn(j.ctx)
		j.deliver()
		p.mu.Lock()
	}
}

// deliver hands the result back on the flow's loop.
func (j *job) deliver() {
	f := j.f
	back := func() {
		if j.toEnd {
			j.ended = true
			f.readyOnLoop() // parked in RunToEnd, in whichever of its parks
			return
		}
		if f.state != stateParked || f.seq != j.seq {
			if j.drop != nil {
				j.drop()
			}
			return
		}
		f.w.err = j.err
		f.readyOnLoop()
	}
	if f.l.Post(back) != nil && j.drop != nil {
		j.drop() // the loop is gone, and the flow with it
	}
}
