package port

import (
	"slices"
	"time"
)

// The buffers io_uring's ring holds. The kernel takes buffers from the
// ring's head and the port gives them back at its tail, so every buffer
// in the ring is used in turn: a ring holding the whole pool would make
// all of it resident under any steady load (4 MiB for 256 buffers of
// 16 KiB), where a few buffers would carry the traffic. So the ring holds
// a working set of ringWant buffers; the others wait, free, on a spare
// stack, untouched. A receive that finds the ring empty ends with
// ENOBUFS (its owner re-arms it, as after any ENOBUFS); the working set
// then grows by half, up to the whole pool. When the loop goes idle with every
// buffer free, the set shrinks back and the spare buffers' memory goes
// back to the system, at most once per bufferTrimEvery, as the epoll
// backend's pool does.

// ringStart is the working set a ring starts with and shrinks back to.
const ringStart = 32

// initRingSet publishes the first working set and stacks the rest, the
// lowest IDs on top.
func (r *uring) initRingSet() {
	n := r.bufs.count
	r.ringWant = min(n, ringStart)
	r.spare = make([]uint16, 0, n)
	for i := n - 1; i >= r.ringWant; i-- {
		r.spare = append(r.spare, uint16(i))
	}
	for i := range r.ringWant {
		r.putBuffer(uint16(i))
	}
	r.inRing = r.ringWant
	r.trimAt = -bufferTrimEvery
	r.publishBuffers()
}

// recycle gives buffer bid back: to the ring while it holds fewer than
// its working set, else to the spare stack.
func (r *uring) recycle(bid uint16) {
	if r.inRing < r.ringWant {
		r.putBuffer(bid)
		r.inRing++
		r.publishBuffers()
		return
	}
	r.spare = append(r.spare, bid)
	r.sparedSinceTrim = true
}

// ranDry grows the working set by half after a receive found the ring
// empty, and fills the ring up to it. Half, not double: every buffer in
// the ring is used in turn, so an overshoot is resident for as long as
// the load lasts.
func (r *uring) ranDry() {
	r.ringWant = min(r.bufs.count, r.ringWant+max(ringStart, r.ringWant/2))
	r.refillRing()
}

// refillRing moves spare buffers into the ring up to its working set.
func (r *uring) refillRing() {
	moved := false
	for r.inRing < r.ringWant && len(r.spare) > 0 {
		bid := r.spare[len(r.spare)-1]
		r.spare = r.spare[:len(r.spare)-1]
		r.putBuffer(bid)
		r.inRing++
		moved = true
	}
	if moved {
		r.publishBuffers()
	}
}

// trimRing runs as the backend is about to sleep: with every buffer free
// (none lent to a caller) after spare buffers were used, it shrinks the
// working set and discards the spare buffers' memory, unless the last
// trim was less than bufferTrimEvery ago; it then returns when the trim
// may run (0: no trim wanted), for the sleep to end by then.
func (r *uring) trimRing(now int64) (retryAt int64) {
	lent := r.bufs.count - r.inRing - len(r.spare)
	if lent != 0 || (!r.sparedSinceTrim && r.ringWant <= ringStart) {
		return 0
	}
	if now-r.trimAt < bufferTrimEvery {
		return r.trimAt + bufferTrimEvery
	}
	r.trimAt = now
	r.ringWant = min(r.bufs.count, ringStart)
	r.sparedSinceTrim = false
	// The spare buffers are out of the kernel's reach: give their memory
	// back, in runs of consecutive IDs, and stack them lowest on top.
	slices.Sort(r.spare)
	for i := 0; i < len(r.spare); {
		j := i + 1
		for j < len(r.spare) && r.spare[j] == r.spare[j-1]+1 {
			j++
		}
		r.bufs.discardRange(int(r.spare[i]), int(r.spare[j-1])+1)
		i = j
	}
	slices.Reverse(r.spare)
	return 0
}

// trimClock is the backend's clock for trimRing, in nanoseconds.
func (r *uring) trimClock() int64 { return int64(time.Since(r.epoch)) }
