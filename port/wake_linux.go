package port

import (
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// eventWake is the wake-up both Linux backends share: an eventfd that
// Wake writes and the backend reads, io_uring with a read it keeps armed
// in the ring, epoll by draining it when epoll reports it readable. How
// the read is made is the backend's; the rest is here: wake-ups made
// while one is pending are the same wake-up (one write, however many
// goroutines call Wake), and a Wake racing with close never writes to a
// closed, perhaps reused, descriptor.
type eventWake struct {
	fd  int
	buf [8]byte // the counter's value lands here when the backend reads it

	pending atomic.Bool // a wake-up is written and not yet read
	mu      sync.Mutex  // orders wake's write against close
	closed  bool        // guarded by mu
}

// wakeOne is the eventfd increment: a native-endian uint64 of 1.
var wakeOne = [8]byte{1}

// open creates the eventfd, non-blocking so that a drain of an empty
// counter and a write to a full one return at once.
func (w *eventWake) open() error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		w.fd = -1
		return os.NewSyscallError("eventfd", err)
	}
	w.fd = fd
	return nil
}

// wake makes the backend's current or next wait return.
func (w *eventWake) wake() error {
	// Only the caller that raises the flag writes. The backend lowers it
	// after reading the counter, so a raised flag always has a write
	// behind it that the backend has yet to see.
	if w.pending.Swap(true) {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	_, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(w.fd), uintptr(unsafe.Pointer(&wakeOne[0])), 8)
	if e != 0 && e != unix.EAGAIN { // EAGAIN: the counter is full, so a wake-up is pending anyway
		w.pending.Store(false)
		return os.NewSyscallError("write(eventfd)", e)
	}
	return nil
}

// woken tells w the backend has read the counter: the next wake writes
// again. The read must come first; a wake after it then fires anew.
func (w *eventWake) woken() { w.pending.Store(false) }

// drain reads the counter and lowers the flag, for a backend that is told
// the eventfd is readable.
func (w *eventWake) drain() {
	unix.Syscall(unix.SYS_READ, uintptr(w.fd), uintptr(unsafe.Pointer(&w.buf[0])), 8)
	w.woken()
}

// close closes the eventfd; wakes from then on fail with ErrClosed.
func (w *eventWake) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.fd < 0 {
		return nil
	}
	err := unix.Close(w.fd)
	w.fd = -1
	if err != nil {
		return os.NewSyscallError("close(eventfd)", err)
	}
	return nil
}
