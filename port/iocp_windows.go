package port

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/cport/cport/internal/timerheap"
)

// The iocp backend is the seed's own mechanism: one I/O completion port per
// Port, each operation started with an OVERLAPPED that lives in its slot
// (slotSys.ov), completions collected in batches with
// GetQueuedCompletionStatusEx and mapped back from the OVERLAPPED to the
// slot and its key.
//
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is deliberately not enabled: every
// operation that starts, even one that finishes inside its call, reports
// through the port, which is the port's contract (no result from submit)
// with a single code path. The cost is one dequeued entry per synchronous
// success, which GetQueuedCompletionStatusEx batches anyway; and Go's own
// poller keeps a fallback for the layered providers that break the flag.
//
// Operations Windows does not start with an OVERLAPPED (timeouts, shutdown,
// close, and calls that fail at once) put their result in cq, which wait
// hands out together with what the port delivered; so do the extra
// completions of the emulated multishot operations.
//
// Where this backend differs from io_uring, within the port's contract:
//
//   - Closing a socket (the Close op, or closesocket elsewhere) cancels
//     the operations still in flight on it; they end with ECANCELED.
//   - Multishot accept and receive are emulated: AcceptEx is re-issued
//     after each connection, and a receive waits with a zero-byte WSARecv
//     (no buffer held while idle) and then reads into provided buffers
//     with non-blocking receives. The socket is switched to non-blocking
//     mode by its first multishot receive.
//   - Poll does not exist (IOCP reports completions, not readiness): its
//     Submit returns ErrUnsupported.
//   - Handles are associated with the port by their first operation and
//     the backend remembers them; a handle closed other than by the Close
//     op stays remembered, and a new handle that Windows gives the same
//     value would never be associated. Close sockets with the Close op.

// overlappedEntry is Windows' OVERLAPPED_ENTRY, as GetQueuedCompletionStatusEx
// fills it.
type overlappedEntry struct {
	key      uintptr
	ov       *windows.Overlapped
	internal uintptr
	qty      uint32
}

// Completion keys: every handle is associated under keyIO; Wake posts
// keyWake with no OVERLAPPED.
const (
	keyIO   = 1
	keyWake = 2
)

const (
	// maxEntries bounds the entries one GetQueuedCompletionStatusEx reads.
	maxEntries = 1024
	// iocpBurst bounds the reads one multishot receive makes per wake-up,
	// so a busy stream cannot starve the others.
	iocpBurst = 32
)

var (
	modkernel32                   = windows.NewLazySystemDLL("kernel32.dll")
	procGetQueuedCompletionStatus = modkernel32.NewProc("GetQueuedCompletionStatusEx")
)

// iocpOp is the backend's record of the operation under one slot index.
type iocpOp struct {
	s    *slot
	key  Key
	live bool // started and its final completion not yet queued
}

// handleInfo is what the backend knows about an associated handle.
type handleInfo struct {
	family      int32 // a listener's address family, once an accept asked
	nonblocking bool  // FIONBIO is set (by a multishot receive)
}

// iocp implements backend with an I/O completion port.
type iocp struct {
	port    windows.Handle
	bufs    *bufferPool
	entries []overlappedEntry
	epoch   time.Time

	ops     []iocpOp
	handles map[windows.Handle]*handleInfo
	timers  timerheap.Heap // timeout slots by key index
	cq      readyQueue
	free    freeBuffers

	connectEx uintptr // ConnectEx, loaded by the first connect
	one       uint32  // FIONBIO's argument
	ioctlRet  uint32

	wakePending atomic.Bool // a wake-up is posted and not yet dequeued
	wakeMu      sync.Mutex  // orders wake's post against close of the port
	wakeClosed  bool        // guarded by wakeMu
}

// openBackend opens the iocp backend, the only one on Windows.
func openBackend(cfg *Config, bufs *bufferPool, _ *slotTable) (backend, error) {
	switch cfg.Backend {
	case "", "iocp":
	default:
		return nil, fmt.Errorf("port: the %s backend exists only on Linux; on Windows the backend is iocp", cfg.Backend)
	}
	return openIOCP(cfg, bufs)
}

// openIOCP creates the completion port.
func openIOCP(cfg *Config, bufs *bufferPool) (backend, error) {
	var wsa windows.WSAData
	if err := windows.WSAStartup(uint32(0x202), &wsa); err != nil {
		return nil, os.NewSyscallError("WSAStartup", err)
	}
	h, err := windows.CreateIoCompletionPort(windows.InvalidHandle, 0, 0, 1)
	if err != nil {
		return nil, os.NewSyscallError("CreateIoCompletionPort", err)
	}
	b := &iocp{
		port:    h,
		bufs:    bufs,
		entries: make([]overlappedEntry, min(int(cfg.Entries), maxEntries)),
		epoch:   time.Now(),
		handles: map[windows.Handle]*handleInfo{},
		one:     1,
	}
	if bufs != nil {
		b.free = newFreeBuffers(bufs.count)
	}
	return b, nil
}

// name reports "iocp".
func (b *iocp) name() string { return "iocp" }

// submit starts the slot's operation. Whatever happens, its result comes
// back through wait: from the port, or from cq when Windows took no
// OVERLAPPED.
func (b *iocp) submit(k Key, s *slot) error {
	if s.op.code == opPoll {
		return fmt.Errorf("%w: poll on iocp (IOCP reports completions, not readiness; a zero-length Recv waits for data)", ErrUnsupported)
	}
	idx := int(k.index())
	if idx >= len(b.ops) {
		b.ops = append(b.ops, make([]iocpOp, idx+1-len(b.ops))...)
	}
	b.ops[idx] = iocpOp{s: s, key: k, live: true}
	s.sys.key = k
	switch s.op.code {
	case opNop:
		if err := windows.PostQueuedCompletionStatus(b.port, 0, keyIO, &s.sys.ov); err != nil {
			b.finish(s, result(opNop, 0, errnoOf(err)))
		}
	case opTimeout:
		b.timerPush(s, b.now()+int64(s.op.duration()))
	case opShutdown:
		b.finish(s, result(opShutdown, 0, errnoOf(windows.Shutdown(windows.Handle(s.op.fd), int(s.op.flags)))))
	case opClose:
		b.finish(s, b.closeHandle(windows.Handle(s.op.fd)))
	default:
		if res := b.start(s); res < 0 {
			b.finish(s, res)
		}
	}
	return nil
}

// forget drops h's association record before the caller closes it.
// retries is false: an overlapped operation completes only when done.
func (b *iocp) retries(*slot, int32) bool { return false }

func (b *iocp) forget(fd int) { delete(b.handles, windows.Handle(fd)) }

// closeHandle closes a socket, or any other handle, and forgets it.
func (b *iocp) closeHandle(h windows.Handle) int32 {
	err := windows.Closesocket(h)
	if err == windows.WSAENOTSOCK {
		err = windows.CloseHandle(h)
	}
	delete(b.handles, h)
	return result(opClose, 0, errnoOf(err))
}

// lookup returns the live operation under k, or nil.
func (b *iocp) lookup(k Key) *slot {
	idx := int(k.index())
	if idx < len(b.ops) && b.ops[idx].live && b.ops[idx].key == k {
		return b.ops[idx].s
	}
	return nil
}

// cancel asks the operation under k to end. An overlapped call ends with
// ERROR_OPERATION_ABORTED (reported as ECANCELED) unless it completed
// first; stopping keeps a multishot from starting its next round.
func (b *iocp) cancel(k Key) error {
	s := b.lookup(k)
	if s == nil {
		return nil
	}
	switch s.op.code {
	case opTimeout:
		b.timerRemove(s)
		b.finish(s, negErrno(syscall.ECANCELED))
	case opNop:
		// Already posted; it completes at once anyway.
	default:
		s.sys.stopping = true
		// ERROR_NOT_FOUND: the call has completed and its entry waits in
		// the port; the operation ends with that result (or, for a
		// multishot, with ECANCELED after it, because of stopping).
		_ = windows.CancelIoEx(windows.Handle(s.op.fd), &s.sys.ov)
	}
	return nil
}

// cancelFD cancels every operation in flight on fd.
func (b *iocp) cancelFD(fd int) error {
	found := false
	for i := range b.ops {
		op := &b.ops[i]
		if op.live && int(op.s.op.fd) == fd && waitsOnHandle(op.s.op.code) {
			op.s.sys.stopping = true
			found = true
		}
	}
	if found {
		_ = windows.CancelIoEx(windows.Handle(fd), nil)
	}
	return nil
}

// waitsOnHandle reports whether operations of kind code are overlapped
// calls on their fd, which CancelIoEx can end.
func waitsOnHandle(code opcode) bool {
	switch code {
	case opNop, opTimeout, opShutdown, opClose, opPoll:
		return false
	}
	return true
}

// cancelAll cancels every operation in flight.
func (b *iocp) cancelAll() error {
	for i := range b.ops {
		if b.ops[i].live {
			_ = b.cancel(b.ops[i].key)
		}
	}
	return nil
}

// wait dequeues completions from the port (and the timers that expire)
// until there is something to hand out, timeout passes or a wake-up comes.
func (b *iocp) wait(out []Completion, timeout time.Duration) (int, error) {
	var end int64
	if timeout > 0 {
		end = b.now() + int64(timeout)
	}
	for {
		b.expireTimers(b.now())
		ms := uint32(0)
		if b.cq.len() == 0 && timeout != 0 {
			ms = windows.INFINITE
			now := b.now()
			if timeout > 0 {
				ms = uint32(msUntil(end, now, windows.INFINITE-1))
			}
			if t, ok := b.nextTimer(); ok {
				ms = min(ms, uint32(msUntil(t, now, windows.INFINITE-1)))
			}
		}
		n, err := b.dequeue(ms)
		if err != nil {
			return b.cq.fill(out), err
		}
		woke := b.handle(b.entries[:n])
		b.expireTimers(b.now())
		if b.cq.len() > 0 || woke || timeout == 0 || (timeout > 0 && b.now() >= end) {
			return b.cq.fill(out), nil
		}
	}
}

// dequeue calls GetQueuedCompletionStatusEx, not alertable, waiting at
// most ms milliseconds; a timeout is zero entries, not an error.
func (b *iocp) dequeue(ms uint32) (int, error) {
	var n uint32
	r, _, e := syscall.SyscallN(procGetQueuedCompletionStatus.Addr(), uintptr(b.port),
		uintptr(unsafe.Pointer(&b.entries[0])), uintptr(len(b.entries)),
		uintptr(unsafe.Pointer(&n)), uintptr(ms), 0)
	if r == 0 {
		if e == windows.WAIT_TIMEOUT {
			return 0, nil
		}
		return 0, os.NewSyscallError("GetQueuedCompletionStatusEx", e)
	}
	return int(n), nil
}

// handle applies dequeued entries and reports whether a wake-up was among
// them.
func (b *iocp) handle(entries []overlappedEntry) bool {
	woke := false
	for i := range entries {
		e := &entries[i]
		if e.key == keyWake {
			// Lowered after the post was dequeued: a Wake from now on posts
			// again, and one made before it was this one.
			b.wakePending.Store(false)
			woke = true
			continue
		}
		if s := b.slotOf(e.ov); s != nil {
			b.completed(s, e.qty)
		}
		e.ov = nil // keep no pointer into a slot past its completion
	}
	return woke
}

// slotOf maps an OVERLAPPED handed back by the port to the slot holding
// it. The OVERLAPPED is the first field of slotSys, so its address is the
// slotSys's; the key stored beside it names the slot, and the backend's
// table confirms the operation is live.
func (b *iocp) slotOf(ov *windows.Overlapped) *slot {
	if ov == nil {
		return nil
	}
	sys := (*slotSys)(unsafe.Pointer(ov))
	s := b.lookup(sys.key)
	if s == nil || &s.sys != sys {
		return nil
	}
	return s
}

// wake posts a wake-up packet to the port, once per pending wake-up.
func (b *iocp) wake() error {
	if b.wakePending.Swap(true) {
		return nil
	}
	b.wakeMu.Lock()
	defer b.wakeMu.Unlock()
	if b.wakeClosed {
		return ErrClosed
	}
	if err := windows.PostQueuedCompletionStatus(b.port, 0, keyWake, nil); err != nil {
		b.wakePending.Store(false)
		return os.NewSyscallError("PostQueuedCompletionStatus", err)
	}
	return nil
}

// recycle gives provided buffer bid back to the free list.
func (b *iocp) recycle(bid uint16) { b.free.put(bid) }

// close releases the completion port. Port.Close has cancelled and
// drained what was in flight.
func (b *iocp) close() error {
	b.wakeMu.Lock()
	defer b.wakeMu.Unlock()
	b.wakeClosed = true
	if err := windows.CloseHandle(b.port); err != nil {
		return os.NewSyscallError("CloseHandle", err)
	}
	return nil
}

// now is the backend's monotonic clock in nanoseconds.
func (b *iocp) now() int64 { return int64(time.Since(b.epoch)) }

// emit reports a completion that is not the operation's last.
func (b *iocp) emit(s *slot, res int32, flags uint32) {
	b.cq.push(Completion{Key: s.sys.key, Res: res, Flags: flags | FlagMore})
}

// finish reports the operation's final result; the system holds none of
// its memory any more.
func (b *iocp) finish(s *slot, res int32) { b.finishData(s, res, 0) }

// finishData is finish for a final completion that carries data (a
// limited receive's last buffer).
func (b *iocp) finishData(s *slot, res int32, flags uint32) {
	b.ops[s.sys.key.index()].live = false
	b.cq.push(Completion{Key: s.sys.key, Res: res, Flags: flags})
}
