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

const (
	defaultBatchSize = 16
	maxBatchWait     = time.Second
)

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
