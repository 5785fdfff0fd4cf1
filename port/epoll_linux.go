package port

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/internal/timerheap"
)

// The epoll backend gives io_uring's completion semantics on top of
// readiness: it waits with edge-triggered epoll, performs each operation's
// system call itself and reports the result as a Completion, with the same
// results, flags and ordering rules as the uring backend.
//
// Every operation passes through three places:
//
//   - sq, the submitted operations not yet started: Submit only queues, and
//     Wait starts them, so no result can come back from Submit;
//   - a queue of its fd (read side, write side, or poll) when the first
//     attempt would block, in FIFO order as io_uring keeps several
//     operations on one fd; or the timer heap for timeouts;
//   - cq, the completions ready to report, which Wait hands out.
//
// An fd is added to the epoll set lazily, by its first operation that
// needs readiness, and made non-blocking by the first accept, connect, read
// or write (io_uring copes with blocking fds; a readiness loop does not).
// Its readable and writable flags are set by events and cleared when a
// call returns EAGAIN: with edge triggering the kernel reports a change
// only once, so the flags are the memory of it.
//
// Where this backend differs from io_uring, within the port's contract:
//
//   - Cancel reaches an operation that Wait has not started yet, so it ends
//     with ECANCELED without its system call ever being made.
//   - An operation parked on an fd that the Close op closes stays in flight
//     until cancelled (close cancels nothing, as on io_uring), but it can no
//     longer complete by itself: io_uring's request holds the file open,
//     this backend cannot.
//   - An fd closed behind the port's back (not with the Close op) keeps its
//     registration here while the kernel has dropped it; a new file under
//     the same number would then wait for events that never come. Close
//     fds with the Close op, as the loop does.

// The backend's record of an operation is its slot, named by the slot
// index, which the operation owns until its final result: the slot's
// next, prev and where place it in one of the lists below (or the timer
// heap), and the port's slot table is shared with the backend for that.

// Where an operation sits (slot.where).
const (
	whereNone   opWhere = iota // not in flight, or its final result is in cq
	whereQueued                // in sq, not yet started
	whereRead                  // parked on its fd's read queue
	whereWrite                 // parked on its fd's write queue
	wherePoll                  // parked on its fd's poll queue
	whereOrphan                // its fd was closed under it; only a cancel ends it
	whereTimer                 // in the timer heap
)

// opList is an intrusive FIFO of operations, linked through their slots:
// head is the first one's index + 1 (0: empty). The back links are
// circular, the head's prev naming the tail, so that the list needs no
// tail field of its own: an fd's state, one per descriptor, stays at 16
// bytes.
type opList struct{ head int32 }

// fdState is what the backend knows about one fd.
type fdState struct {
	rq, wq, pq opList
	flags      fdFlags
}

// fdFlags are an fd's registration and cached readiness.
type fdFlags uint8

const (
	fdRegistered  fdFlags = 1 << iota // in the epoll set
	fdNoPoll                          // epoll refused it (a regular file): calls never wait
	fdReadable                        // the last event said readable and no call said EAGAIN since
	fdWritable                        // likewise for writing
	fdAgain                           // on the again list: a multishot stopped at its burst limit
	fdNonblocking                     // O_NONBLOCK is set (by the backend or its owner)
	fdClosing                         // the peer hung up or an error is pending: read to the end
)

const (
	// epollEvents is what every fd is registered for: both directions and
	// the peer's half-close, edge-triggered so an fd costs nothing to keep
	// registered while idle.
	epollEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
	// multishotBurst bounds the completions one multishot operation posts
	// per round, so a busy listener or stream cannot starve other fds.
	multishotBurst = 32
	// maxEvents bounds the events read by one epoll_wait.
	maxEvents = 1024
	// minPollEvents is the fewest events a wait reads when the ready
	// queue already holds its caller's batch (see pollRoom).
	minPollEvents = 32
)

// epollBackend implements backend with epoll; see the comment at the top.
type epollBackend struct {
	epfd   int
	bufs   *bufferPool
	events []unix.EpollEvent
	epoch  time.Time

	// Config.BatchWait (batchwait.go): a wake-up that brought fewer than
	// batchSize completions lingers batchWait for more.
	batchWait time.Duration
	batchSize int
	gate      batchGate // whether a batch wait pays at the current rate

	slots    *slotTable      // the port's: each operation's record is its slot
	fds      chunks[fdState] // by descriptor
	sq       opList
	orphans  opList
	timers   timerheap.Heap // timeout operations by index
	cq       readyQueue
	parked   int     // operations in the fds' queues
	again    []int32 // fds whose multishot operation has more to do
	againCur []int32
	free     freeBuffers

	// Scratch memory the kernel reads or writes during one call; kept in the
	// backend so that passing its address allocates nothing.
	ev     unix.EpollEvent
	pfd    unix.PollFd
	zeroTS unix.Timespec
	waitTS unix.Timespec // epoll_pwait2's timeout
	soErr  int32
	soLen  uint32
	iov    []unix.Iovec // sendMsgNow's
	hdr    unix.Msghdr

	// Wake-ups: an eventfd in the epoll set, drained when it fires.
	wakeup eventWake

	// pwait2 says the kernel has epoll_pwait2 (5.11), whose timeout is in
	// nanoseconds: timers then fire when due, as on io_uring, rather than
	// up to a millisecond late.
	pwait2 bool
}

// openEpoll creates an epoll backend with its wake-up eventfd.
func openEpoll(cfg *Config, bufs *bufferPool, slots *slotTable) (backend, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	var w eventWake
	if err := w.open(); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(w.fd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, w.fd, &ev); err != nil {
		w.close()
		unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	n := int(cfg.Entries)
	if n <= 0 || n > maxEvents {
		n = maxEvents
	}
	b := &epollBackend{
		epfd:   epfd,
		slots:  slots,
		wakeup: eventWake{fd: w.fd},
		bufs:   bufs,
		events: make([]unix.EpollEvent, n),
		epoch:  time.Now(),

		batchWait: cfg.BatchWait,
		batchSize: cfg.BatchSize,
		gate:      newBatchGate(cfg.BatchWait),
	}
	if bufs != nil {
		b.free = newFreeBuffers(bufs.count)
	}
	// ENOSYS before 5.11; a seccomp filter that predates the call may
	// answer EPERM instead. Either way, epoll_wait does the job.
	_, err = epollPwait2(epfd, b.events, &b.zeroTS)
	b.pwait2 = err == nil
	return b, nil
}

// op is the record of the operation in slot i, which must exist: the
// slot itself.
func (b *epollBackend) op(i int32) *slot { return b.slots.at(i) }

// key is the key of the operation in slot i.
func (b *epollBackend) key(i int32) Key { return makeKey(uint32(i), b.op(i).gen) }

// fd is descriptor fd's state, which must exist (fd below b.fds.size()).
func (b *epollBackend) fd(fd int) *fdState { return b.fds.at(fd) }

// name reports "epoll".
func (b *epollBackend) name() string { return "epoll" }

// submit queues the operation in s, k's slot, for the next wait to start;
// Port.Submit has already prepared the slot's kernel memory.
func (b *epollBackend) submit(k Key, s *slot) error {
	s.connecting = false
	b.push(&b.sq, int32(k.index()), whereQueued)
	return nil
}

// cancel ends the operation under k with ECANCELED unless its final result
// is already out.
func (b *epollBackend) cancel(k Key) error {
	if s := b.slots.lookup(k); s != nil && s.where != whereNone {
		b.finish(int32(k.index()), -int32(unix.ECANCELED))
	}
	return nil
}

// cancelFD cancels the operations waiting on fd, started or not.
func (b *epollBackend) cancelFD(fd int) error {
	for i := b.sq.head - 1; i >= 0; {
		next := b.op(i).next - 1
		if op := &b.op(i).op; int(op.fd) == fd && waitsOnFD(op.code) {
			b.finish(i, -int32(unix.ECANCELED))
		}
		i = next
	}
	if fd < 0 || fd >= b.fds.size() {
		return nil
	}
	for _, l := range [...]*opList{&b.fd(fd).rq, &b.fd(fd).wq, &b.fd(fd).pq} {
		for l.head != 0 {
			b.finish(l.head-1, -int32(unix.ECANCELED))
		}
	}
	return nil
}

// cancelAll cancels every operation in flight.
func (b *epollBackend) cancelAll() error {
	for i := range b.slots.used {
		if b.op(i).where != whereNone {
			b.finish(int32(i), -int32(unix.ECANCELED))
		}
	}
	return nil
}

// wait starts queued operations, waits for readiness or a timer, performs
// the I/O that became possible and hands out up to len(out) completions.
func (b *epollBackend) wait(out []Completion, timeout time.Duration) (int, error) {
	n, err := b.waitReady(out, timeout)
	if b.gate.window > 0 {
		b.gate.count(out[:n])
	}
	return n, err
}

func (b *epollBackend) waitReady(out []Completion, timeout time.Duration) (int, error) {
	var end int64
	if timeout > 0 {
		end = b.now() + int64(timeout)
	}
	for {
		b.startQueued()
		b.runAgain()
		b.expireTimers(b.now())
		wait := time.Duration(0)
		switch {
		case b.cq.len() > 0 || len(b.again) > 0:
			if b.parked == 0 && len(b.again) == 0 {
				// Nothing an event could advance: skip the system call.
				return b.cq.fill(out), nil
			}
		case timeout != 0:
			wait = -1
			now := b.now()
			b.gate.decide(now)
			// About to sleep: a good moment to give back what a burst
			// of receives left resident.
			from, ok, retryAt := b.free.trimIfIdle(now)
			if ok && b.bufs != nil {
				b.bufs.discardFrom(from)
			}
			if timeout > 0 {
				wait = time.Duration(max(end-now, 0))
			}
			if retryAt > 0 {
				if d := time.Duration(max(retryAt-now, 0)); wait < 0 || d < wait {
					wait = d
				}
			}
			if t, ok := b.nextTimer(); ok {
				if d := time.Duration(max(t-now, 0)); wait < 0 || d < wait {
					wait = d
				}
			}
		}
		n, err := b.epollWait(wait, b.pollRoom(len(out)))
		if err != nil && err != unix.EINTR {
			return b.cq.fill(out), os.NewSyscallError("epoll_wait", err)
		}
		woke := b.handle(b.events[:max(n, 0)])
		b.expireTimers(b.now())
		if wait != 0 && b.gate.lingers() && b.cq.len() > 0 && b.cq.len() < b.batchSize {
			linger(b.batchWait)
			if n, err := b.epollWait(0, b.pollRoom(len(out))); err == nil {
				woke = b.handle(b.events[:n]) || woke
			}
			b.expireTimers(b.now())
		}
		if b.cq.len() > 0 || woke || timeout == 0 || (timeout > 0 && b.now() >= end) {
			return b.cq.fill(out), nil
		}
	}
}

// pollRoom is how many events the next epoll_wait may read, for a wait
// that hands out up to batch completions: the batch's room left after
// what the ready queue holds, but at least minPollEvents. Each event's
// I/O is performed as it is read, so events read beyond what the caller
// takes would only pile up: in a burst on thousands of connections, the
// sends a batch starts fill the queue again before the next poll, and a
// full poll on top of them each time grew it by a poll's worth per wait,
// to thousands of completions held at once. The floor keeps readiness
// flowing while operations that complete at once keep the queue full;
// the events not read now stay ready in the kernel for the next call.
func (b *epollBackend) pollRoom(batch int) int {
	return min(len(b.events), max(batch-b.cq.len(), minPollEvents))
}

// epollWait waits up to d for at most limit events (d < 0: without limit).
func (b *epollBackend) epollWait(d time.Duration, limit int) (int, error) {
	events := b.events[:limit]
	if !b.pwait2 {
		ms := -1
		if d >= 0 {
			ms = int(msUntil(int64(d), 0, 1<<31-1))
		}
		return unix.EpollWait(b.epfd, events, ms)
	}
	if d < 0 {
		return epollPwait2(b.epfd, events, nil)
	}
	b.waitTS = unix.NsecToTimespec(int64(d))
	return epollPwait2(b.epfd, events, &b.waitTS)
}

// epollPwait2 is epoll_pwait2(2) without a signal mask: epoll_wait with a
// timespec timeout (nil: none). x/sys/unix has no wrapper for it.
func epollPwait2(epfd int, events []unix.EpollEvent, timeout *unix.Timespec) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd),
		uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)),
		uintptr(unsafe.Pointer(timeout)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// wake makes the current or next wait return by writing the eventfd.
func (b *epollBackend) wake() error { return b.wakeup.wake() }

// recycle gives provided buffer bid back to the free list.
func (b *epollBackend) recycle(bid uint16) { b.free.put(bid) }

// close releases the epoll set and the eventfd.
func (b *epollBackend) close() error {
	err1 := b.wakeup.close()
	err2 := unix.Close(b.epfd)
	if err1 != nil {
		return err1
	}
	if err2 != nil {
		return os.NewSyscallError("close", err2)
	}
	return nil
}

// now is the backend's monotonic clock in nanoseconds.
func (b *epollBackend) now() int64 { return int64(time.Since(b.epoch)) }

// emit reports a completion that is not the operation's last.
func (b *epollBackend) emit(k Key, res int32, flags uint32) {
	b.cq.push(Completion{Key: k, Res: res, Flags: flags | FlagMore})
}

// finish takes operation i out of wherever it waits and reports its final
// result.
func (b *epollBackend) finish(i int32, res int32) {
	b.unlink(i)
	b.cq.push(Completion{Key: b.key(i), Res: res})
}

// handle applies a batch of events and reports whether the eventfd fired.
func (b *epollBackend) handle(events []unix.EpollEvent) bool {
	woke := false
	for k := range events {
		fd, m := int(events[k].Fd), events[k].Events
		if fd == b.wakeup.fd {
			// Drained before the flag drops: a wake that raises the flag
			// after this writes again and so fires another event.
			b.wakeup.drain()
			woke = true
			continue
		}
		if fd < 0 || fd >= b.fds.size() || b.fd(fd).flags&fdRegistered == 0 {
			continue
		}
		st := b.fd(fd)
		if m&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			st.flags |= fdReadable
		}
		if m&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			st.flags |= fdClosing
		}
		if m&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			st.flags |= fdWritable
		}
		b.runQueue(fd, whereRead)
		b.runQueue(fd, whereWrite)
		b.runPolls(fd, m)
	}
	return woke
}

// startQueued starts every submitted operation, in submission order.
func (b *epollBackend) startQueued() {
	for b.sq.head != 0 {
		i := b.sq.head - 1
		b.unlink(i)
		b.start(i)
	}
}

// runAgain gives the multishot operations stopped at their burst limit
// another round.
func (b *epollBackend) runAgain() {
	if len(b.again) == 0 {
		return
	}
	b.againCur = append(b.againCur[:0], b.again...)
	b.again = b.again[:0]
	for _, fd := range b.againCur {
		if int(fd) >= b.fds.size() || b.fd(int(fd)).flags&fdAgain == 0 {
			continue // closed meanwhile
		}
		b.fd(int(fd)).flags &^= fdAgain
		b.runQueue(int(fd), whereRead)
		b.runQueue(int(fd), whereWrite)
	}
}

// later puts fd on the again list for the next round.
func (b *epollBackend) later(fd int) {
	if b.fd(fd).flags&fdAgain == 0 {
		b.fd(fd).flags |= fdAgain
		b.again = append(b.again, int32(fd))
	}
}

// track returns fd's state, adding fd to the epoll set on first use; a
// negative result is -errno.
func (b *epollBackend) track(fd int) (*fdState, int32) {
	if fd < 0 {
		return nil, -int32(unix.EBADF)
	}
	if fd < b.fds.size() && b.fd(fd).flags&(fdRegistered|fdNoPoll) != 0 {
		return b.fd(fd), 0
	}
	// Register before growing the table, so that a bogus fd number is an
	// EBADF and not a huge allocation.
	b.ev = unix.EpollEvent{Events: epollEvents, Fd: int32(fd)}
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(b.epfd), unix.EPOLL_CTL_ADD, uintptr(fd), uintptr(unsafe.Pointer(&b.ev)), 0, 0)
	var flags fdFlags
	switch e {
	case 0, unix.EEXIST:
		// Optimistic until a call says EAGAIN: data that is already there
		// is read at once instead of after a round trip through epoll_wait.
		flags = fdRegistered | fdReadable | fdWritable
	case unix.EPERM:
		// Regular files and directories cannot be polled: they are always
		// ready, and their calls never return EAGAIN.
		flags = fdNoPoll | fdReadable | fdWritable
	default:
		return nil, -int32(e)
	}
	b.fds.grow(fd)
	st := b.fd(fd)
	st.flags |= flags
	return st, 0
}

// makeNonblocking sets O_NONBLOCK on a tracked fd, once. Only accept,
// connect, read and write need it: sends and receives ask for it per call
// with MSG_DONTWAIT, and polls make no call. The flag belongs to the open
// file, which others (a shell sharing a terminal) may share, so the backend
// sets it only where it has no other way.
func (b *epollBackend) makeNonblocking(fd int) {
	st := b.fd(fd)
	if st.flags&(fdNonblocking|fdNoPoll) != 0 {
		return
	}
	st.flags |= fdNonblocking
	fl, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETFL, 0)
	if e == 0 && fl&unix.O_NONBLOCK == 0 {
		unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK)
	}
}

// forget drops fd's registration before it is closed. Operations still
// parked on it become orphans: close does not cancel them, and they must
// not run on a new file that reuses the number.
// retries is false: the backend waits for readiness itself and never
// reports a socket operation that would block.
func (b *epollBackend) retries(*slot, int32) bool { return false }

func (b *epollBackend) forget(fd int) {
	if fd < 0 || fd >= b.fds.size() {
		return
	}
	st := b.fd(fd)
	if st.flags&fdRegistered != 0 {
		// Explicitly, because a dup of fd would keep the kernel's entry and
		// its events alive after close.
		unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(b.epfd), unix.EPOLL_CTL_DEL, uintptr(fd), 0, 0, 0)
	}
	for _, l := range [...]*opList{&st.rq, &st.wq, &st.pq} {
		for l.head != 0 {
			i := l.head - 1
			b.unlink(i)
			b.push(&b.orphans, i, whereOrphan)
		}
	}
	*st = fdState{}
}

// waitsOnFD reports whether an operation of kind code waits for its fd's
// readiness (and so can be cancelled by fd).
func waitsOnFD(code opcode) bool {
	return sideOf(code) != whereNone || code == opPoll
}

// sideOf names the fd queue an operation of kind code waits in.
func sideOf(code opcode) opWhere {
	switch code {
	case opAccept, opAcceptMultishot, opRecv, opRecvMultishot, opRecvmsg, opRead:
		return whereRead
	case opSend, opSendmsg, opConnect, opWrite:
		return whereWrite
	}
	return whereNone
}

// list returns the fd queue for side w.
func (st *fdState) list(w opWhere) *opList {
	switch w {
	case whereRead:
		return &st.rq
	case whereWrite:
		return &st.wq
	}
	return &st.pq
}

// push appends operation i to l and records that it waits there.
func (b *epollBackend) push(l *opList, i int32, w opWhere) {
	r := b.op(i)
	r.where, r.next = w, 0
	if l.head == 0 {
		l.head, r.prev = i+1, i+1
	} else {
		h := b.op(l.head - 1)
		b.op(h.prev - 1).next = i + 1
		r.prev, h.prev = h.prev, i+1
	}
	if w == whereRead || w == whereWrite || w == wherePoll {
		b.parked++
	}
}

// unlink takes operation i out of its list or the timer heap.
func (b *epollBackend) unlink(i int32) {
	r := b.op(i)
	var l *opList
	switch r.where {
	case whereNone:
		return
	case whereTimer:
		b.timerRemove(i)
		r.where = whereNone
		return
	case whereQueued:
		l = &b.sq
	case whereOrphan:
		l = &b.orphans
	default:
		l = b.fd(int(r.op.fd)).list(r.where)
		b.parked--
	}
	switch {
	case l.head == i+1:
		// The head: its successor, if any, becomes the head and takes
		// over the back link to the tail.
		l.head = r.next
		if r.next != 0 {
			b.op(r.next - 1).prev = r.prev
		}
	case r.next == 0:
		// The tail: its predecessor becomes the tail.
		b.op(r.prev - 1).next = 0
		b.op(l.head - 1).prev = r.prev
	default:
		b.op(r.prev - 1).next = r.next
		b.op(r.next - 1).prev = r.prev
	}
	r.prev, r.next, r.where = 0, 0, whereNone
}
