package loop

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/cport/cport/port"
)

// ErrClosed is returned by every method of a loop that is closing or closed.
var ErrClosed = fmt.Errorf("loop: %w", net.ErrClosed)

// Config tunes a loop. The zero value is a good default.
type Config struct {
	// Port configures the loop's completion port. Port.Buffers of zero
	// means DefaultBuffers provided buffers, which the transports read
	// through; a negative Port.Buffers means none. Port.BatchWait of zero
	// means DefaultBatchWait; a negative one means none.
	Port port.Config
	// Completions is how many completions one Wait may return. Default 256.
	Completions int
	// SlowCallback, when positive, turns on the debug report of callbacks,
	// timers and functions that run longer than it: each one blocks every
	// other connection on the loop for that long.
	SlowCallback time.Duration
	// OnSlow receives those reports, on the loop goroutine. Default: a line
	// on stderr, at most once a second for each function.
	OnSlow func(what string, d time.Duration)
	// OnPanic receives the value and stack of a panic recovered from a
	// callback, timer or function; the loop goes on. Default: print both to
	// stderr.
	OnPanic func(v any, stack []byte)
}

const defaultCompletions = 256

// DefaultBuffers is the size of a loop's provided-buffer pool unless its
// Config says otherwise: 256 buffers of port's default 16 KiB, 4 MiB per
// loop. Connections take a buffer only while their data is being handed to
// them, so the pool bounds a burst, not the number of connections.
const DefaultBuffers = 256

// DefaultBatchWait is a loop's batch wait (port.Config.BatchWait) unless
// its Config says otherwise. The port opens it only while data arrives
// fast enough for a window to gather two receives (about 40,000 a second
// per loop): then a wake-up runs a batch instead of a packet, at up to
// this much latency; below that the loop wakes for each arrival as it
// would without. Measured with clients that each send their own packets
// (bench/loadgen, 64 B × 100 connections), the server's CPU per message
// fell from 10.6 µs to 7.3; at 20,000 messages a second it stayed within
// noise (bench/results/2026-12-04-batch-gate.md).
const DefaultBatchWait = 50 * time.Microsecond

// closeDrainLimit bounds how long Close waits for cancelled operations to
// report, so an operation the kernel cannot cancel cannot hang shutdown.
const closeDrainLimit = 2 * time.Second

// Loop is one goroutine, locked to its OS thread, driving one completion
// port. Methods documented "loop only" must be called on that goroutine
// (from a callback, timer or posted function); Post, InLoop, Stop, Close and
// Done may be called from anywhere.
type Loop struct {
	port  *port.Port
	batch []port.Completion

	keys   keyTable // the callback map, indexed by key index
	locals []any    // Local values, by Local id
	ready  []func()
	spare  []func() // ready's other half: the list being run
	timers timerQueue

	flushers      []Flusher // run before the next poll (flush.go)
	spareFlushers []Flusher

	base        time.Time // loop time zero; Now is base plus now
	now         int64     // nanoseconds since base, refreshed each iteration
	iterations  uint64
	turns       atomic.Uint64 // iterations, for other goroutines (Progress)
	rescheduled int64         // now at the loop goroutine's last pass through the Go scheduler (sysmon.go)

	slow    time.Duration
	onSlow  func(string, time.Duration)
	onPanic func(any, []byte)

	posts   postQueue
	closing atomic.Bool    // set once by Stop, Close or a failing port
	m       atomic.Uintptr // the loop thread's runtime m, zero once it has exited
	atClose []func()       // loop only
	tid     atomic.Int32   // the loop's OS thread, for architectures without getm
	done    chan struct{}
	err     error       // why the loop ended; read after done is closed
	closed  atomic.Bool // a Close has already returned err

	counters Counters
}

// Start opens a port and runs a loop over it on a new goroutine. The port
// is opened on that goroutine, after it has locked its OS thread, because
// io_uring's single-issuer mode binds the ring to the thread that made it.
func Start(cfg Config) (*Loop, error) {
	l := &Loop{done: make(chan struct{})}
	l.configure(cfg)
	opened := make(chan error, 1)
	go l.main(cfg.Port, opened)
	if err := <-opened; err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Loop) configure(cfg Config) {
	n := cfg.Completions
	if n <= 0 {
		n = defaultCompletions
	}
	l.batch = make([]port.Completion, n)
	l.slow = cfg.SlowCallback
	l.onSlow = cfg.OnSlow
	if l.onSlow == nil {
		l.onSlow = rateLimitedSlowReport()
	}
	l.onPanic = cfg.OnPanic
	if l.onPanic == nil {
		l.onPanic = func(v any, stack []byte) {
			fmt.Fprintf(os.Stderr, "loop: recovered panic: %v\n%s", v, stack)
		}
	}
}

func (l *Loop) main(pcfg port.Config, opened chan<- error) {
	switch {
	case pcfg.Buffers == 0:
		pcfg.Buffers = DefaultBuffers
	case pcfg.Buffers < 0:
		pcfg.Buffers = 0
	}
	switch {
	case pcfg.BatchWait == 0:
		pcfg.BatchWait = DefaultBatchWait
	case pcfg.BatchWait < 0:
		pcfg.BatchWait = 0
	}
	runtime.LockOSThread()
	p, err := port.Open(pcfg)
	if err != nil {
		runtime.UnlockOSThread()
		opened <- err
		return
	}
	l.port = p
	l.base = time.Now()
	l.m.Store(threadHandle())
	l.tid.Store(threadID())
	addRunning(l)
	opened <- nil

	for !l.closing.Load() {
		if err := l.iterate(); err != nil {
			l.err = err
			break
		}
	}
	l.shutdown()
	removeRunning(l)

	// The thread runs other goroutines once unlocked: forget it first.
	l.m.Store(0)
	l.tid.Store(0)
	runtime.UnlockOSThread()
	close(l.done)
}

// iterate is one turn of the loop. Of the completion-port model's four
// steps, 1 (Register: map a key to a callback) and 2 (Submit: start an
// operation naming the key) happen in the code the loop runs, keys.go;
// 3 and 4 are here, with the loop's own work around them.
func (l *Loop) iterate() error {
	l.iterations++
	l.turns.Add(1)
	l.runReady()  // functions queued before this turn, in order
	l.runTimers() // timers whose deadline has passed
	l.runFlushers()

	timeout := l.waitTimeout()
	n, err := l.port.Wait(l.batch, timeout) // 3. poll: one system call
	if timeout != 0 {
		l.posts.sleeping.Store(false)
		l.tick()
		l.passScheduler()
	}
	l.counters.wakeups.Add(1)
	l.counters.completions.Add(uint64(n))
	l.counters.timers.Store(int64(l.timers.heap.Len()))
	l.dispatchAll(l.batch[:n]) // 4. look each key up and call back
	l.takePosts()
	return err
}

// waitTimeout is how long Wait may sleep: not at all while work is ready,
// until the next timer, or until a completion or Post. It announces the
// sleep to posters first; see postQueue for why that order matters.
func (l *Loop) waitTimeout() time.Duration {
	if len(l.ready) > 0 {
		return 0
	}
	timeout := time.Duration(-1)
	if when, ok := l.timers.next(); ok {
		timeout = max(time.Duration(when-l.now), 0)
		if timeout == 0 {
			return 0
		}
	}
	l.posts.sleeping.Store(true)
	if l.posts.nonempty.Load() || l.closing.Load() {
		l.posts.sleeping.Store(false)
		return 0
	}
	return timeout
}

// tick refreshes the loop's cached time.
func (l *Loop) tick() { l.now = int64(time.Since(l.base)) }

// Now is the loop's time, read once per iteration (loop only). It carries
// a monotonic reading, so durations between two Nows are exact.
func (l *Loop) Now() time.Time { return l.base.Add(time.Duration(l.now)) }

// InLoop reports whether the caller runs on the loop's goroutine, or in a
// coroutine the loop goroutine is running (a flow; see guest.go).
func (l *Loop) InLoop() bool { return l.onLoop() }

// Done is closed once the loop goroutine has exited.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Backend names the port's mechanism: "uring" or "epoll".
func (l *Loop) Backend() string { return l.port.Backend() }

// Stop asks the loop to close and returns at once; Close waits as well.
func (l *Loop) Stop() { l.posts.close(l, false) }

// Close stops the loop: it refuses new work (ErrClosed), runs what was
// already posted, cancels every operation in flight and delivers the final
// completions to their callbacks, closes the port and returns once the loop
// goroutine has exited. Called on the loop itself it cannot wait for that,
// so it acts as Stop. Later calls return ErrClosed.
func (l *Loop) Close() error {
	l.Stop()
	if l.InLoop() {
		return nil
	}
	<-l.done
	if l.closed.Swap(true) {
		return ErrClosed
	}
	return l.err
}

// shutdown is the loop's last act: finish posted work, cancel and drain
// operations so their owners can clean up, then close the port.
func (l *Loop) shutdown() {
	l.posts.close(l, true)
	l.takePosts()
	l.runAtClose()
	l.drainReady()
	_ = l.port.CancelAll()
	deadline := time.Now().Add(closeDrainLimit)
	for l.port.InFlight() > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		n, err := l.port.Wait(l.batch, left)
		l.dispatchAll(l.batch[:n])
		l.drainReady()
		if err != nil {
			break
		}
	}
	l.timers.reset()
	// A poster that saw the queue open may still be inside port.Wake; the
	// port's eventfd must outlive it.
	for l.posts.wakers.Load() != 0 {
		runtime.Gosched()
	}
	if err := l.port.Close(); err != nil && l.err == nil {
		l.err = err
	}
}

// drainReadyPasses bounds shutdown's ready-queue runs: a function that
// re-queues itself forever must not keep the loop from closing.
const drainReadyPasses = 1000

func (l *Loop) drainReady() {
	for i := 0; i < drainReadyPasses && len(l.ready)+len(l.flushers) > 0; i++ {
		l.runReady()
		l.runFlushers()
	}
	clear(l.ready)
	l.ready = l.ready[:0]
}
