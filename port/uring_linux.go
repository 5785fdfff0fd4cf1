package port

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var errUringTooOld = errors.New("port: io_uring lacks features cport needs (Linux 6.0 or later)")

// uring is the io_uring backend: one ring, created and entered only by the
// port's locked thread.
type uring struct {
	fd       int
	setup    uint32 // setup flags the kernel accepted
	features uint32

	// Config.BatchWait (batchwait.go): batchNr completions or batchWait,
	// in the kernel where it can (batchNative), by lingering elsewhere.
	batchNr     uint32
	batchWait   time.Duration
	batchNative bool
	gate        batchGate // whether a batch wait pays at the current rate

	noRecvLimit bool // the kernel refused a multishot receive's byte limit
	noRecvCap   bool // the kernel refused a multishot receive's per-receive cap

	ringMem []byte // SQ and CQ rings (one mapping: FEAT_SINGLE_MMAP)
	sqeMem  []byte

	sqHead  *uint32 // advanced by the kernel as it consumes entries
	sqTail  *uint32 // advanced by us to publish entries
	sqFlags *uint32 // kernel-set: CQ overflow pending, task work pending
	sqMask  uint32
	sqSize  uint32
	sqes    unsafe.Pointer
	sqLocal uint32          // our tail, published to sqTail before each enter
	sqTS    []unix.Timespec // a timeout entry's timespec, by SQ index

	cqHead *uint32 // advanced by us as we consume completions
	cqTail *uint32 // advanced by the kernel
	cqMask uint32
	cqes   unsafe.Pointer

	backlog []pending // submissions waiting for room in the SQ

	// Wake-ups: a read of this eventfd is always armed in the ring.
	wakeup eventWake

	// Provided buffers: a ring the kernel takes buffer IDs from.
	bufs    *bufferPool
	bufRing []byte
	bufTail uint16
	bufMask uint16
	// The ring's working set (uring_bufs_linux.go).
	ringWant        int      // buffers the ring should hold
	inRing          int      // buffers published and not yet taken by a completion
	spare           []uint16 // free buffers kept out of the ring, the next on top
	sparedSinceTrim bool     // a buffer went to spare since the last trim
	trimAt          int64    // trimClock of the last trim
	ringCanShrink   bool     // the trim may take the ring back: DEFER_TASKRUN, and no refused unregister
	epoch           time.Time

	arg ioUringGeteventsArg
	ts  unix.Timespec
}

// internal reports whether user data belongs to the backend's own
// entries (wake-ups, cancel requests) rather than to a Key: those carry
// generation zero, which no Key has.
func internal(userData uint64) bool { return userData>>32 == 0 }

// User data of the backend's own entries.
const (
	udWake   uint64 = 1 // the armed eventfd read that Wake completes
	udCancel uint64 = 2 // async-cancel requests; their results are not reported
)

// pending is a submission that found the SQ full.
type pending struct {
	kind uint8 // pendOp, pendCancel, pendCancelFD, pendCancelAll
	key  Key
	s    *slot
	fd   int32
}

const (
	pendOp = iota
	pendCancel
	pendCancelFD
	pendCancelAll
	pendWake
)

// setupAttempts are tried in order; a kernel that does not know a flag
// answers EINVAL and the next, more modest set is tried. Single issuer with
// deferred task work (6.1) runs completions only when the loop asks for
// them, in its own thread; cooperative task running (5.19) at least spares
// the loop an interrupt per completion.
var setupAttempts = []uint32{
	setupSingleIssuer | setupDeferTaskrun | setupTaskrunFlag | setupSubmitAll,
	setupCoopTaskrun | setupTaskrunFlag | setupSubmitAll,
	setupSubmitAll,
	0,
}

// useURing gates io_uring on the kernel: multishot receive with provided
// buffer rings (6.0) is the floor for the network path. Older kernels work
// but lose most of io_uring's advantage and carry bugs we do not want to
// chase (liburing#205 on 5.4); they get epoll.
func useURing() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return fmt.Errorf("port: cannot read kernel version: %w", err)
	}
	if major < 6 {
		return fmt.Errorf("%w; this kernel is %d.%d", errUringTooOld, major, minor)
	}
	return nil
}

func openURing(cfg *Config, bufs *bufferPool) (backend, error) {
	if err := useURing(); err != nil {
		return nil, err
	}
	// A single-issuer ring belongs to the thread that set it up, and
	// refuses the registrations below (EEXIST) from any other: the
	// goroutine must not move between threads meanwhile. (Its driver must
	// stay on that thread afterwards too; port's doc asks for
	// LockOSThread before Open. This lock only nests in the caller's.)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := &uring{fd: -1, wakeup: eventWake{fd: -1}, bufs: bufs}
	var p ioUringParams
	var err error
	for _, flags := range setupAttempts {
		p = ioUringParams{flags: flags | setupCQSize | setupClamp, cqEntries: cfg.CQEntries}
		r.fd, err = ioUringSetup(cfg.Entries, &p)
		if err != syscall.EINVAL {
			break
		}
	}
	if err != nil {
		return nil, os.NewSyscallError("io_uring_setup", err)
	}
	r.setup, r.features = p.flags, p.features
	if cfg.BatchWait > 0 {
		r.batchNr, r.batchWait = uint32(cfg.BatchSize), cfg.BatchWait
		r.batchNative = r.features&featMinTimeout != 0 && !ignoreMinTimeout
		r.gate = newBatchGate(cfg.BatchWait)
	}
	if err := r.init(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *uring) name() string { return "uring" }

func (r *uring) init(p *ioUringParams) error {
	const need = featSingleMmap | featNodrop | featExtArg
	if r.features&need != need {
		return errUringTooOld
	}
	if err := r.probe(); err != nil {
		return err
	}
	sqLen := uintptr(p.sqOff.array) + uintptr(p.sqEntries)*4
	cqLen := uintptr(p.cqOff.cqes) + uintptr(p.cqEntries)*unsafe.Sizeof(ioUringCQE{})
	ringLen := max(sqLen, cqLen)
	var err error
	r.ringMem, err = unix.Mmap(r.fd, offSQRing, int(ringLen), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(ioUringSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	base := unsafe.Pointer(&r.ringMem[0])
	r.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	r.sqFlags = (*uint32)(unsafe.Add(base, p.sqOff.flags))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	r.sqSize = *(*uint32)(unsafe.Add(base, p.sqOff.ringEntries))
	r.sqes = unsafe.Pointer(&r.sqeMem[0])
	r.sqTS = make([]unix.Timespec, r.sqSize)
	r.sqLocal = *r.sqTail
	// The SQ array maps ring positions to SQE indices. We always fill SQEs
	// in ring order, so the identity mapping is written once and kept.
	array := unsafe.Slice((*uint32)(unsafe.Add(base, p.sqOff.array)), r.sqSize)
	for i := range array {
		array[i] = uint32(i)
	}
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	r.cqes = unsafe.Add(base, p.cqOff.cqes)

	if r.bufs != nil {
		if err := r.registerBuffers(); err != nil {
			return err
		}
	}
	if err := r.wakeup.open(); err != nil {
		return err
	}
	r.armWake()
	return nil
}

// uringOpsNeeded are the opcodes cport submits; a kernel missing any of
// them (REGISTER_PROBE says which it has) gets the epoll backend.
var uringOpsNeeded = []uint8{
	iorNop, iorPollAdd, iorSendmsg, iorRecvmsg, iorTimeout, iorAccept, iorAsyncCancel,
	iorConnect, iorClose, iorRead, iorWrite, iorSend, iorRecv, iorShutdown,
}

func (r *uring) probe() error {
	pr := new(ioUringProbe)
	if err := ioUringRegister(r.fd, registerProbe, unsafe.Pointer(pr), uint32(len(pr.ops))); err != nil {
		return os.NewSyscallError("io_uring_register(PROBE)", err)
	}
	for _, op := range uringOpsNeeded {
		if op > pr.lastOp || pr.ops[op].flags&probeOpSupported == 0 {
			return fmt.Errorf("%w: opcode %d missing", errUringTooOld, op)
		}
	}
	return nil
}

// registerBuffers hands the pool to the kernel as buffer group 0.
func (r *uring) registerBuffers() error {
	n := r.bufs.count
	var err error
	r.bufRing, err = allocRegion(n * int(unsafe.Sizeof(ioUringBuf{})))
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	reg := ioUringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&r.bufRing[0]))), ringEntries: uint32(n)}
	if err := ioUringRegister(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		return os.NewSyscallError("io_uring_register(PBUF_RING)", err)
	}
	r.bufMask = uint16(n - 1)
	r.epoch = time.Now()
	r.initRingSet()
	return nil
}

func (r *uring) bufEntry(i uint16) *ioUringBuf {
	return (*ioUringBuf)(unsafe.Add(unsafe.Pointer(&r.bufRing[0]), uintptr(i&r.bufMask)*unsafe.Sizeof(ioUringBuf{})))
}

func (r *uring) putBuffer(bid uint16) {
	b := r.bufs.get(bid)
	e := r.bufEntry(r.bufTail)
	e.addr = uint64(uintptr(unsafe.Pointer(&b[0])))
	e.len = uint32(len(b))
	e.bid = bid
	r.bufTail++
}

// publishBuffers makes the new tail visible to the kernel. The tail is the
// resv half-word of entry 0; Go has no 16-bit atomic store, so the whole
// word holding entry 0's bid and the tail is stored at once. Only we write
// entry 0's bid, so storing back the value we wrote is safe, and the atomic
// store orders the entries' contents before the tail.
func (r *uring) publishBuffers() {
	e0 := r.bufEntry(0)
	word := (*uint32)(unsafe.Pointer(&e0.bid))
	atomic.StoreUint32(word, uint32(e0.bid)|uint32(r.bufTail)<<16)
}

// forget has nothing to drop: io_uring holds a file only while an
// operation on it is in flight.
func (r *uring) forget(fd int) {}

// retries is true for a socket send or receive that ended with EAGAIN.
// io_uring waits for a busy socket by polling it, and when a wake-up finds
// the socket still busy it hands the request to a worker thread, where a
// non-blocking socket answers EAGAIN, and that becomes the result. The
// epoll backend waits in that case, so the port does the same: a fresh
// submission polls again. Reported as a failure, it once turned a slow
// reader into a lost connection whose queue vanished.
//
// A multishot receive with a per-receive cap (before 6.10) or a byte
// limit (before 6.17) that the kernel refuses with EINVAL is retried
// without the newer of the two, which this ring then stops asking for.
func (r *uring) retries(s *slot, res int32) bool {
	if res == -int32(unix.EINVAL) && s.op.code == opRecvMultishot {
		switch {
		case s.op.off > 0 && !r.noRecvLimit:
			r.noRecvLimit = true
			return true
		case s.op.bufn > 0 && !r.noRecvCap:
			r.noRecvCap = true
			return true
		}
	}
	if res != -int32(unix.EAGAIN) {
		return false
	}
	switch s.op.code {
	case opSend, opSendmsg, opRecv, opRecvMultishot, opRecvmsg:
		return true
	}
	return false
}

// getSQE returns the next free submission entry, zeroed, and its index,
// or nil when the ring is full.
func (r *uring) getSQE() (*ioUringSQE, uint32) {
	// Acquire: the kernel's head tells which entries it has finished reading.
	head := atomic.LoadUint32(r.sqHead)
	if r.sqLocal-head >= r.sqSize {
		return nil, 0
	}
	i := r.sqLocal & r.sqMask
	sqe := (*ioUringSQE)(unsafe.Add(r.sqes, uintptr(i)*unsafe.Sizeof(ioUringSQE{})))
	*sqe = ioUringSQE{}
	r.sqLocal++
	return sqe, i
}

// queue places one request in the SQ, submitting to make room if the ring
// is full, and keeps it in the backlog if even that fails (the kernel
// refuses new work while it holds overflowed completions). Nothing is ever
// dropped; the backlog is retried at the next wait.
func (r *uring) queue(req pending) error {
	if len(r.backlog) == 0 {
		sqe, i := r.getSQE()
		if sqe == nil {
			r.enter(0, 0, nil)
			sqe, i = r.getSQE()
		}
		if sqe != nil {
			return r.prep(sqe, i, req)
		}
	}
	r.backlog = append(r.backlog, req)
	return nil
}

func (r *uring) submit(k Key, s *slot) error {
	return r.queue(pending{kind: pendOp, key: k, s: s})
}

func (r *uring) cancel(k Key) error { return r.queue(pending{kind: pendCancel, key: k}) }

func (r *uring) cancelFD(fd int) error {
	return r.queue(pending{kind: pendCancelFD, fd: int32(fd)})
}

func (r *uring) cancelAll() error { return r.queue(pending{kind: pendCancelAll}) }

func (r *uring) armWake() { _ = r.queue(pending{kind: pendWake}) }

// prep fills sqe for req.
func (r *uring) prep(sqe *ioUringSQE, i uint32, req pending) error {
	switch req.kind {
	case pendCancel:
		sqe.opcode = iorAsyncCancel
		sqe.fd = -1
		sqe.addr = uint64(req.key)
		sqe.userData = udCancel
		return nil
	case pendCancelFD:
		sqe.opcode = iorAsyncCancel
		sqe.fd = req.fd
		sqe.opFlags = cancelFD | cancelAll
		sqe.userData = udCancel
		return nil
	case pendCancelAll:
		sqe.opcode = iorAsyncCancel
		sqe.fd = -1
		sqe.opFlags = cancelAny | cancelAll
		sqe.userData = udCancel
		return nil
	case pendWake:
		prepRW(sqe, iorRead, int32(r.wakeup.fd), unsafe.Pointer(&r.wakeup.buf[0]), uint32(len(r.wakeup.buf)), 0)
		sqe.userData = udWake
		return nil
	}
	prepOp(sqe, req.s, &r.sqTS[i])
	if op := &req.s.op; op.code == opRecvMultishot {
		if op.off > 0 && !r.noRecvLimit {
			sqe.spliceFdIn = int32(min(op.off, 1<<31-1)) // optlen: the total byte limit
		}
		if op.bufn > 0 && !r.noRecvCap {
			sqe.len = uint32(op.bufn) // each receive's cap
		}
	}
	sqe.userData = uint64(req.key)
	return nil
}

// flushBacklog moves backlogged requests into the SQ while there is room.
func (r *uring) flushBacklog() {
	i := 0
	for ; i < len(r.backlog); i++ {
		sqe, j := r.getSQE()
		if sqe == nil {
			break
		}
		_ = r.prep(sqe, j, r.backlog[i])
	}
	n := copy(r.backlog, r.backlog[i:])
	clear(r.backlog[n:])
	r.backlog = r.backlog[:n]
}

// noTimeout stands for "no timeout" where the kernel needs one: an hour,
// after which the caller's loop merely turns once and sleeps again.
var noTimeout = unix.NsecToTimespec(int64(time.Hour))

// enter publishes the SQ tail and calls io_uring_enter. It returns the
// enter error, which callers interpret (ETIME: the wait timed out; EINTR:
// a signal; EBUSY/EAGAIN: the kernel cannot take more now).
func (r *uring) enter(minComplete uint32, flags uint32, timeout *unix.Timespec) error {
	// Release: the SQE contents must be visible before the new tail.
	atomic.StoreUint32(r.sqTail, r.sqLocal)
	toSubmit := r.sqLocal - atomic.LoadUint32(r.sqHead)
	var arg unsafe.Pointer
	var argSize uintptr
	if flags&enterGetevents != 0 {
		r.arg = ioUringGeteventsArg{}
		if minComplete > 1 && r.batchNative {
			// A batch wait: after this long, what has come is enough.
			r.arg.minWaitUsec = uint32(max(r.batchWait/time.Microsecond, 1))
		}
		if timeout == nil && r.arg.minWaitUsec > 0 {
			// A minimum wait with no timeout ends the wait when it
			// passes, whether or not anything came; with one, it only
			// makes the wait return with less than minComplete.
			timeout = &noTimeout
		}
		if timeout != nil {
			r.ts = *timeout
			r.arg.ts = uint64(uintptr(unsafe.Pointer(&r.ts)))
		}
		flags |= enterExtArg
		arg, argSize = unsafe.Pointer(&r.arg), unsafe.Sizeof(r.arg)
	} else if toSubmit == 0 {
		return nil
	}
	_, err := ioUringEnter(r.fd, toSubmit, minComplete, flags, arg, argSize)
	return err
}

func (r *uring) cqReady() bool {
	return atomic.LoadUint32(r.cqTail) != *r.cqHead
}

// ignoreMinTimeout makes rings opened while it is set batch their waits
// as a kernel without IORING_FEAT_MIN_TIMEOUT must, for the tests.
var ignoreMinTimeout bool

// cqCount is how many completions wait in the CQ.
func (r *uring) cqCount() uint32 {
	return atomic.LoadUint32(r.cqTail) - *r.cqHead
}

func (r *uring) needsFlush() bool {
	return atomic.LoadUint32(r.sqFlags)&(sqCQOverflow|sqTaskrun) != 0
}

func (r *uring) wait(out []Completion, timeout time.Duration) (int, error) {
	n, err := r.waitReady(out, timeout)
	if r.gate.window > 0 {
		r.gate.count(out[:n])
	}
	return n, err
}

func (r *uring) waitReady(out []Completion, timeout time.Duration) (int, error) {
	r.flushBacklog()
	var err error
	if r.cqReady() || timeout == 0 {
		// Only submit, and run deferred task work if the kernel says some
		// is waiting; do not block.
		// With TASKRUN_FLAG the kernel raises SQ_TASKRUN when deferred
		// work waits, so an idle poll costs no system call; without it a
		// deferred-taskrun ring must be entered to find out.
		flags := uint32(0)
		blind := r.setup&setupDeferTaskrun != 0 && r.setup&setupTaskrunFlag == 0
		if r.needsFlush() || timeout == 0 && blind && !r.cqReady() {
			flags = enterGetevents
		}
		err = r.enter(0, flags, nil)
	} else {
		err = r.sleep(timeout)
		if r.gate.lingers() && !r.batchNative && err == nil {
			if k := r.cqCount(); k > 0 && k < r.batchNr {
				linger(r.batchWait)
				err = r.enter(0, enterGetevents, nil)
			}
		}
	}
	n := r.reap(out)
	if n < len(out) && r.needsFlush() {
		// Overflowed completions wait in the kernel; a GETEVENTS enter
		// moves them into the CQ now that we made room.
		if e := r.enter(0, enterGetevents, nil); e == nil {
			n += r.reap(out[n:])
		}
	}
	switch err {
	case nil, syscall.ETIME, syscall.EINTR, syscall.EAGAIN, syscall.EBUSY:
		return n, nil
	}
	if _, named := err.(*os.SyscallError); named {
		return n, err // the trim's, which names its own call
	}
	return n, os.NewSyscallError("io_uring_enter", err)
}

// sleep waits up to timeout (< 0: without limit) for a completion. About
// to sleep is when the buffer ring's working set is trimmed; a trim that
// is due but must wait for its interval ends the sleep early, runs, and
// the sleep goes on for the rest of timeout.
func (r *uring) sleep(timeout time.Duration) error {
	var end int64
	if timeout > 0 {
		end = r.trimClock() + int64(timeout)
	}
	for {
		now := r.trimClock()
		r.gate.decide(now)
		var retryAt int64
		if r.bufs != nil {
			var err error
			if retryAt, err = r.trimRing(now); err != nil {
				return err
			}
		}
		d, forTrim := timeout, false
		if timeout > 0 {
			d = time.Duration(max(end-now, 0))
		}
		if retryAt > 0 && (d < 0 || time.Duration(retryAt-now) < d) {
			d, forTrim = time.Duration(max(retryAt-now, 0)), true
		}
		var err error
		want := uint32(1)
		if r.batchNative && r.gate.lingers() {
			want = r.batchNr
		}
		if d < 0 {
			err = r.enter(want, enterGetevents, nil)
		} else {
			ts := unix.NsecToTimespec(int64(d))
			err = r.enter(want, enterGetevents, &ts)
		}
		if !forTrim || err != syscall.ETIME || r.cqReady() {
			return err
		}
	}
}

// reap moves completions from the CQ into out, handling the backend's own.
func (r *uring) reap(out []Completion) int {
	n := 0
	dry := false
	head := *r.cqHead
	// Acquire: completions up to the tail are fully written.
	tail := atomic.LoadUint32(r.cqTail)
	for head != tail && n < len(out) {
		cqe := (*ioUringCQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*unsafe.Sizeof(ioUringCQE{})))
		head++
		if internal(cqe.userData) {
			if cqe.userData == udWake {
				r.wakeup.woken()
				r.armWake()
			}
			continue
		}
		out[n] = Completion{Key: Key(cqe.userData), Res: cqe.res, Flags: cqe.flags}
		n++
		switch {
		case cqe.flags&FlagBuffer != 0:
			r.inRing--
		case cqe.res == -int32(unix.ENOBUFS):
			dry = true
		}
	}
	// Release: the kernel may reuse the entries we consumed.
	atomic.StoreUint32(r.cqHead, head)
	if dry {
		// Once for the batch: an empty ring ends every receive with data
		// waiting at the same moment, and each ENOBUFS is the same news.
		r.ranDry()
	}
	return n
}

func (r *uring) wake() error { return r.wakeup.wake() }

func (r *uring) close() error {
	var first error
	if r.ringMem != nil {
		unix.Munmap(r.ringMem)
		r.ringMem = nil
	}
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
		r.sqeMem = nil
	}
	if r.fd >= 0 {
		if err := unix.Close(r.fd); err != nil {
			first = os.NewSyscallError("close", err)
		}
		r.fd = -1
	}
	if err := r.wakeup.close(); err != nil && first == nil {
		first = err
	}
	if r.bufRing != nil {
		freeRegion(r.bufRing)
		r.bufRing = nil
	}
	return first
}
