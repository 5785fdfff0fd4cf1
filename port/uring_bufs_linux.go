package port

import (
	"os"
	"slices"
	"time"
	"unsafe"
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
//
// Buffers already published to the ring stay the kernel's until it uses
// them: after a burst grew the set to the whole pool, an idle loop's ring
// would hold every buffer, all resident, for as long as it stays idle.
// So the trim takes the ring back (unregisters it, which with every
// buffer free leaves none in the kernel's hands) and registers it again
// holding the working set alone; receives select their buffer when data
// arrives, so an armed multishot receive goes on with the new ring. With
// DEFER_TASKRUN (6.1+) receives and their completions happen only inside
// this thread's io_uring_enter, so none can land between the trim's
// count of free buffers and the unregister; older rings shrink only as
// the kernel uses their buffers.

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
	// Only a ring that runs its completions when this thread asks
	// (DEFER_TASKRUN) may be taken back: elsewhere the kernel can post a
	// receive's completion, naming a ring buffer it filled, between the
	// trim's look at the ring and the unregister, and the trim would hand
	// that buffer out again, or discard its memory, with its data unread.
	r.ringCanShrink = r.setup&setupDeferTaskrun != 0
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
// (none lent to a caller) after spare buffers were used or while the ring
// holds more than the working set, it shrinks the working set, takes the
// ring back to that (shrinkRing) where it may, and discards the spare
// buffers' memory, unless the last trim was less than bufferTrimEvery
// ago; it then returns when the trim may run (0: no trim wanted), for the
// sleep to end by then. Its error is shrinkRing's.
func (r *uring) trimRing(now int64) (retryAt int64, err error) {
	lent := r.bufs.count - r.inRing - len(r.spare)
	overgrown := r.inRing > ringStart && r.ringCanShrink
	if lent != 0 || (!r.sparedSinceTrim && r.ringWant <= ringStart && !overgrown) {
		return 0, nil
	}
	if now-r.trimAt < bufferTrimEvery {
		return r.trimAt + bufferTrimEvery, nil
	}
	r.trimAt = now
	r.ringWant = min(r.bufs.count, ringStart)
	r.sparedSinceTrim = false
	if overgrown {
		if err := r.shrinkRing(); err != nil {
			return 0, err
		}
	}
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
	return 0, nil
}

// shrinkRing replaces the ring's buffers with the working set, the
// lowest IDs, and stacks the rest as spare (every buffer is free). A
// kernel that refuses to unregister the ring keeps it as it was, and the
// ring shrinks only as it is used; one that refuses to register it again
// leaves the port without buffers, which is an error for the loop.
func (r *uring) shrinkRing() error {
	reg := ioUringBufReg{}
	if err := ioUringRegister(r.fd, unregisterPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		r.ringCanShrink = false
		return nil
	}
	clear(r.bufRing)
	r.bufTail = 0
	r.spare = r.spare[:0]
	for i := r.bufs.count - 1; i >= r.ringWant; i-- {
		r.spare = append(r.spare, uint16(i))
	}
	for i := range r.ringWant {
		r.putBuffer(uint16(i))
	}
	r.inRing = r.ringWant
	r.publishBuffers()
	reg = ioUringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&r.bufRing[0]))), ringEntries: uint32(r.bufs.count)}
	if err := ioUringRegister(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		return os.NewSyscallError("io_uring_register(PBUF_RING) after the trim", err)
	}
	return nil
}

// trimClock is the backend's clock for trimRing, in nanoseconds.
func (r *uring) trimClock() int64 { return int64(time.Since(r.epoch)) }
