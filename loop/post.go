package loop

import (
	"sync"
	"sync/atomic"
)

// postQueue carries functions from any goroutine to the loop. Posters
// append under a short lock; the loop swaps the whole slice out for its
// spare, so neither side allocates once both slices have grown.
//
// Wake-ups are coalesced with two flags, in a store-then-load handshake
// (sequentially consistent atomics, so at least one side sees the other):
//
//	poster: append, nonempty = true;  then if sleeping: Wake
//	loop:   sleeping = true;          then if nonempty: don't sleep
//
// Either the loop sees the new function before it sleeps, or the poster
// sees the loop asleep. Only one poster per sleep wins the CAS on sleeping
// and calls port.Wake; the rest append and return.
type postQueue struct {
	mu     sync.Mutex
	q      []func()
	closed bool

	spare    []func()    // loop only
	nonempty atomic.Bool // q has functions the loop has not taken
	sleeping atomic.Bool // the loop is in, or about to enter, a blocking Wait
	wakers   atomic.Int32
	wakes    atomic.Uint64 // port.Wake calls made by posters
}

// Post queues fn to run on the loop, from any goroutine (the loop's too).
// Functions from one goroutine run in the order posted. After Close it
// returns ErrClosed and fn never runs.
func (l *Loop) Post(fn func()) error {
	pq := &l.posts
	pq.mu.Lock()
	if pq.closed {
		pq.mu.Unlock()
		return ErrClosed
	}
	pq.q = append(pq.q, fn)
	if len(pq.q) == 1 {
		pq.nonempty.Store(true)
	}
	wake := pq.sleeping.Load() && pq.sleeping.CompareAndSwap(true, false)
	if wake {
		// Counted under the lock, so once close has set closed the loop
		// can wait for every Wake in progress before closing the port.
		pq.wakers.Add(1)
	}
	pq.mu.Unlock()
	if !wake {
		return nil
	}
	pq.wakes.Add(1)
	err := l.port.Wake()
	pq.wakers.Add(-1)
	return portErr(err)
}

// close refuses further posts and, unless the loop itself is closing,
// wakes it to notice.
func (pq *postQueue) close(l *Loop, onLoop bool) {
	pq.mu.Lock()
	if pq.closed {
		pq.mu.Unlock()
		return
	}
	pq.closed = true
	l.closing.Store(true)
	if onLoop {
		pq.mu.Unlock()
		return
	}
	pq.wakers.Add(1)
	pq.mu.Unlock()
	_ = l.port.Wake()
	pq.wakers.Add(-1)
}

// takePosts moves posted functions to the end of the ready queue.
func (l *Loop) takePosts() {
	pq := &l.posts
	if !pq.nonempty.Load() {
		return
	}
	pq.mu.Lock()
	got := pq.q
	pq.q = pq.spare[:0]
	pq.nonempty.Store(false)
	pq.mu.Unlock()
	l.ready = append(l.ready, got...)
	clear(got) // drop the references; the slice is reused
	pq.spare = got[:0]
}

// CallSoon queues fn to run on the next iteration, after those already
// queued (loop only). Unlike Post it takes no lock.
func (l *Loop) CallSoon(fn func()) {
	l.ready = append(l.ready, fn)
}

// runReady runs the functions queued before it started; those they queue
// wait for the next iteration, so a function that re-queues itself cannot
// starve I/O.
func (l *Loop) runReady() {
	if len(l.ready) == 0 {
		return
	}
	run := l.ready
	l.ready = l.spare[:0]
	l.runFuncs(kindFunc, run)
	l.spare = run[:0]
}
