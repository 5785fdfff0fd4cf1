package port

import (
	"fmt"
	"time"
)

// A loop under steady load from many peers, each sending its own small
// packets, is woken by every one: each wake-up is a context switch, an
// io_uring_enter or epoll_wait, and the Go runtime's system-call
// bookkeeping, for one or two completions. Config.BatchWait lets a Wait
// that slept hold on, once something has arrived, until BatchSize
// completions are there or BatchWait has passed, and run them together.
//
//   - io_uring (Linux 6.12+, IORING_FEAT_MIN_TIMEOUT) does it in the
//     kernel: the sleep asks for BatchSize completions with BatchWait as
//     its min_wait_usec, and returns with what it has once that passes.
//   - epoll, and io_uring on older kernels, sleep out BatchWait after a
//     wake-up that brought fewer, then gather what came meanwhile: two
//     system calls more per such wake-up, so it pays only under load.
//
// A Wait that found completions ready, or whose caller asked not to
// block, never lingers.
//
// Nor does one while data comes slowly: a window that gathers nothing is
// a timer and a wake-up more, not one fewer (at 20,000 messages a second,
// about one per 50 µs window, it cost up to 1.3× the CPU per message).
// batchGate measures how fast receives complete into provided buffers
// (the arrivals from outside, which a window could gather; sends and
// timers complete because the loop acted, and a batch wait does not
// change how many there are), over periods of a millisecond or more
// judged as a Wait is about to sleep, and opens the batch wait only while
// a window can be expected to gather gateGather of them. It starts open,
// trusting the configuration until it has measured.

const (
	defaultBatchSize = 16
	maxBatchWait     = time.Second
)

const (
	gatePeriod = int64(time.Millisecond) // how long each rate measurement runs
	gateGather = 2                       // arrivals a window must be expected to gather
)

// batchGate says whether a backend's batch wait pays, from the rate at
// which data arrives (loop only; times on the backend's monotonic clock,
// in nanoseconds).
type batchGate struct {
	window   int64 // BatchWait in nanoseconds; 0: never linger
	arrivals int64 // receives into provided buffers since since
	since    int64
	closed   bool
}

func newBatchGate(window time.Duration) batchGate { return batchGate{window: int64(window)} }

// lingers reports whether a Wait about to sleep should batch.
func (g *batchGate) lingers() bool { return g.window > 0 && !g.closed }

// count counts the arrivals among the completions a Wait handed out.
func (g *batchGate) count(out []Completion) {
	for i := range out {
		if out[i].Flags&FlagBuffer != 0 {
			g.arrivals++
		}
	}
}

// decide, called at now by a Wait about to sleep (the only moment the
// gate matters, so a busy loop reads no clock for it), ends the period
// once it has lasted gatePeriod and judges it: open while
// rate × window ≥ gateGather. A period in which nothing has arrived yet
// goes on until something does: a loop with nothing to gather loses
// nothing by either verdict, and an empty stretch (the time before a
// loop's first data, or a timer's wake-up during a Wait that is still
// waiting for its first) says nothing about the rate once data comes.
func (g *batchGate) decide(now int64) {
	if elapsed := now - g.since; g.window > 0 && g.arrivals > 0 && elapsed >= gatePeriod {
		g.closed = g.arrivals*g.window < gateGather*elapsed
		g.arrivals, g.since = 0, now
	}
}

func (c *Config) fillBatch() error {
	if c.BatchWait < 0 || c.BatchWait > maxBatchWait {
		return fmt.Errorf("port: BatchWait = %v, want 0 (none) up to %v", c.BatchWait, maxBatchWait)
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("port: BatchSize = %d, want a positive count (0: %d)", c.BatchSize, defaultBatchSize)
	}
	if c.BatchSize == 0 {
		c.BatchSize = defaultBatchSize
	}
	c.BatchSize = min(c.BatchSize, int(c.CQEntries))
	return nil
}
