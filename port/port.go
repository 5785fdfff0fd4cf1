package port

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Every backend must provide these methods. They run on the port's owning
// goroutine unless noted; the Port checks keys and slot states before calling
// them, so a backend sees only well-formed requests.
//
//   - name: "uring", "epoll" or "iocp".
//   - submit: queue the operation held in s under key k. It must not deliver
//     the completion synchronously: results are reported by wait, never by
//     submit (libuv's rule: no callback from inside the call that starts it).
//   - cancel: ask for the in-flight operation under k to end early; it then
//     completes with ECANCELED (unless it finished first).
//   - cancelFD: the same for every operation on fd.
//   - cancelAll: the same for every operation in flight (used by Close).
//   - wait: flush submissions and fill out with completions, waiting at most
//     timeout (negative: no limit) for the first. Completions may name keys
//     the Port no longer knows; the Port drops those.
//   - wake: make a concurrent or the next wait return. Any goroutine may call
//     it, many at once; calls made while one is pending may be coalesced.
//   - recycle: give provided buffer bid back to the backend.
//   - forget: drop what the backend remembers of fd (its epoll
//     registration, its IOCP association), which is about to be closed
//     outside the port.
//   - retries: whether a final completion with result res is one the
//     kernel gave up on for a reason that waiting fixes, so the port
//     submits the operation again instead of reporting it.
//   - close: cancel what is in flight, wait for it, release kernel objects.
type backend interface {
	name() string
	submit(k Key, s *slot) error
	cancel(k Key) error
	cancelFD(fd int) error
	cancelAll() error
	wait(out []Completion, timeout time.Duration) (int, error)
	wake() error
	recycle(bid uint16)
	forget(fd int)
	retries(s *slot, res int32) bool
	close() error
}

// Errors returned by the port. They are stable values for errors.Is.
var (
	// ErrClosed: the port was closed.
	ErrClosed = fmt.Errorf("port: %w", net.ErrClosed)
	// ErrStaleKey: the key was released (its slot may belong to someone else).
	ErrStaleKey = errors.New("port: stale key")
	// ErrBusy: the key already has an operation in flight.
	ErrBusy = errors.New("port: key has an operation in flight")
	// ErrNoBuffers: a provided-buffer operation on a port opened without
	// provided buffers (Config.Buffers == 0).
	ErrNoBuffers = errors.New("port: no provided buffers configured")
	// ErrUnsupported: the operation does not exist on this backend or kernel.
	ErrUnsupported = errors.New("port: operation not supported by this backend")
	// ErrStuckOps: Close gave up waiting for operations the kernel did
	// not end; the port keeps the memory they may still write.
	ErrStuckOps = errors.New("port: closed with operations in flight")
)

// Config tunes a port. The zero value is a good default.
type Config struct {
	// Backend forces "uring" or "epoll" (Linux) or "iocp" (Windows). Empty means the CPORT_BACKEND
	// environment variable, or, when that is unset too, the best that works.
	Backend string
	// Entries is the submission queue size (rounded up to a power of two).
	// Default 256. A full queue is submitted and refilled, never dropped.
	Entries uint32
	// CQEntries is the completion queue size. Default 8×Entries: multishot
	// operations post many completions per submission.
	CQEntries uint32
	// Buffers is the number of provided buffers that multishot receives take
	// from (a power of two, at most 32768). Zero means none.
	Buffers int
	// BufferSize is the size of each provided buffer. Default 16 KiB.
	BufferSize int
	// BatchWait, if positive, lets a Wait that slept and was woken by
	// fewer than BatchSize completions linger up to this long for more,
	// so that a loop under steady load wakes once per batch rather than
	// once per packet. It trades up to BatchWait of latency (timers and
	// wake-ups included) for CPU, and only while receives into provided
	// buffers arrive fast enough for a window to gather two; see
	// batchwait.go. A port without provided buffers stops lingering after
	// its first millisecond. io_uring and epoll; the iocp backend ignores
	// it. Zero is none here; loop.Config gives loops a default.
	BatchWait time.Duration
	// BatchSize is how many completions end a BatchWait early. Default 16.
	BatchSize int
}

const (
	defaultEntries    = 256
	defaultBufferSize = 16 << 10
	maxBuffers        = 1 << 15
)

func (c *Config) fill() error {
	if c.Backend == "" {
		c.Backend = os.Getenv("CPORT_BACKEND")
	}
	switch c.Backend {
	case "", "uring", "epoll", "iocp":
	default:
		return fmt.Errorf("port: unknown backend %q (want uring or epoll on Linux, iocp on Windows)", c.Backend)
	}
	if c.Entries == 0 {
		c.Entries = defaultEntries
	}
	c.Entries = roundPow2(c.Entries)
	if c.CQEntries == 0 {
		c.CQEntries = 8 * c.Entries
	}
	c.CQEntries = roundPow2(max(c.CQEntries, c.Entries)) // the kernel wants CQ ≥ SQ
	if c.Buffers < 0 || c.Buffers > maxBuffers || c.Buffers&(c.Buffers-1) != 0 {
		return fmt.Errorf("port: Buffers = %d, want a power of two up to %d", c.Buffers, maxBuffers)
	}
	if c.BufferSize == 0 {
		c.BufferSize = defaultBufferSize
	}
	if c.BufferSize < 0 || c.BufferSize > 1<<30 {
		return fmt.Errorf("port: BufferSize = %d out of range", c.BufferSize)
	}
	return c.fillBatch()
}

func roundPow2(n uint32) uint32 {
	p := uint32(1)
	for p < n {
		p <<= 1
	}
	return p
}

// Port is a completion port. See the package documentation for the rules
// on which goroutine may call what.
type Port struct {
	b      backend
	direct directSender // b, when it can send at once (sendnow.go)
	slots  slotTable
	bufs   *bufferPool
	closed atomic.Bool
}

// Open creates a port with the backend chosen by cfg, CPORT_BACKEND or the
// kernel's abilities, in that order. A backend that was asked for by name
// and cannot be opened is an error, never a silent fallback.
func Open(cfg Config) (*Port, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &Port{}
	if cfg.Buffers > 0 {
		bp, err := newBufferPool(cfg.Buffers, cfg.BufferSize)
		if err != nil {
			return nil, err
		}
		p.bufs = bp
	}
	b, err := openBackend(&cfg, p.bufs, &p.slots)
	if err != nil {
		if p.bufs != nil {
			p.bufs.free()
		}
		return nil, err
	}
	p.b = b
	p.direct, _ = b.(directSender)
	return p, nil
}

// Backend names the mechanism underneath: "uring", "epoll" or "iocp".
func (p *Port) Backend() string { return p.b.name() }

// Register creates a key with no operation in flight (step 1 of the model).
func (p *Port) Register() (Key, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	return p.slots.alloc(), nil
}

// Submit starts op under key k (step 2). The completion comes back from
// Wait, never from Submit itself, even when the operation finishes at once.
func (p *Port) Submit(k Key, op Op) error {
	if p.closed.Load() {
		return ErrClosed
	}
	s := p.slots.lookup(k)
	if s == nil || s.state == slotReleased {
		return ErrStaleKey
	}
	if s.state != slotIdle {
		return ErrBusy
	}
	if op.code == opRecvMultishot && p.bufs == nil {
		return ErrNoBuffers
	}
	s.op = op
	s.cancelled = false
	if err := s.prepare(); err != nil {
		s.op = Op{}
		return err
	}
	p.slots.setState(s, slotInFlight)
	if err := p.b.submit(k, s); err != nil {
		s.op = Op{}
		p.slots.setState(s, slotIdle)
		return err
	}
	return nil
}

// Cancel asks the operation in flight under k to end. It still completes
// through Wait, with ECANCELED unless it finished first. Cancelling an idle
// key does nothing.
func (p *Port) Cancel(k Key) error {
	if p.closed.Load() {
		return ErrClosed
	}
	s := p.slots.lookup(k)
	if s == nil {
		return ErrStaleKey
	}
	if s.state != slotInFlight {
		return nil
	}
	s.cancelled = true
	return p.b.cancel(k)
}

// CancelFD asks every operation in flight on fd to end, as Cancel does.
// Close an fd only after its operations have completed: closing does not
// cancel them.
func (p *Port) CancelFD(fd int) error {
	if p.closed.Load() {
		return ErrClosed
	}
	p.slots.markCancelled(func(s *slot) bool { return s.op.fd == int32(fd) })
	return p.b.cancelFD(fd)
}

// CancelAll asks every operation in flight to end, as Cancel does.
func (p *Port) CancelAll() error {
	if p.closed.Load() {
		return ErrClosed
	}
	p.slots.markCancelled(func(*slot) bool { return true })
	return p.b.cancelAll()
}

// Forget tells the port that fd is about to be closed by other means than
// the Close op, with nothing in flight on it. The epoll and IOCP backends
// remember the descriptors they watch; a new file that reuses the number
// would otherwise inherit a stale registration and never report.
func (p *Port) Forget(fd int) {
	if !p.closed.Load() {
		p.b.forget(fd)
	}
}

// Release gives the key back. An operation still in flight is cancelled;
// its completion is swallowed and the slot is reused only after it, so no
// later owner of the slot ever sees it.
func (p *Port) Release(k Key) error {
	s := p.slots.lookup(k)
	if s == nil || s.state == slotReleased {
		return ErrStaleKey
	}
	if s.state == slotIdle {
		p.slots.free(k)
		return nil
	}
	p.slots.setState(s, slotReleased)
	if p.closed.Load() {
		return nil
	}
	return p.b.cancel(k)
}

// Wait flushes queued submissions and waits up to timeout for completions
// (steps 3 and 4's input): a negative timeout waits until at least one
// operation completes or Wake is called, zero only collects what is ready.
// It returns how many entries of out it filled. It may return 0 before the
// timeout (a wake-up, or completions of released keys that it swallowed).
func (p *Port) Wait(out []Completion, timeout time.Duration) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	return p.collect(out, timeout)
}

// collect is Wait without the closed check, so Close can drain.
func (p *Port) collect(out []Completion, timeout time.Duration) (int, error) {
	n, err := p.b.wait(out, timeout)
	kept := 0
	for i := 0; i < n; i++ {
		c := out[i]
		s := p.slots.lookup(c.Key)
		if s == nil || s.state == slotIdle || s.state == slotReleased {
			// Nobody will see this completion: a late one for a key that is
			// gone, reused or released. A buffer it carries goes straight
			// back to the pool, or the pool would leak it.
			if s != nil && s.state == slotReleased && !c.More() {
				s.op = Op{}
				p.slots.free(c.Key)
			}
			if id, ok := c.BufferID(); ok && p.bufs != nil {
				p.b.recycle(id)
			}
			continue
		}
		if c.Res < 0 && !c.More() && !s.cancelled && p.b.retries(s, c.Res) && !p.closed.Load() {
			if err := p.b.submit(c.Key, s); err == nil {
				continue
			}
		}
		if !c.More() {
			if s.op.msg != nil {
				s.op.msg.complete(c.Res)
			}
			s.op = Op{} // drop references to the caller's memory
			p.slots.setState(s, slotIdle)
		}
		if id, ok := c.BufferID(); ok && p.bufs != nil {
			p.bufs.lend(id)
		}
		out[kept] = c
		kept++
	}
	return kept, err
}

// Wake makes a concurrent Wait return, or the next one if none is waiting.
// It is safe from any goroutine; calls made while a wake-up is pending are
// coalesced into one.
func (p *Port) Wake() error {
	if p.closed.Load() {
		return ErrClosed
	}
	return p.b.wake()
}

// Buffer returns the provided buffer that completion c filled. Give it back
// with RecycleBuffer once its bytes have been used.
func (p *Port) Buffer(c Completion) []byte {
	id, ok := c.BufferID()
	if !ok || p.bufs == nil || c.Res <= 0 {
		return nil
	}
	return p.bufs.get(id)[:c.Res]
}

// RecycleBuffer returns provided buffer id to the pool that multishot
// receives draw from. Each buffer a completion handed out goes back once;
// recycling an ID that is not out (twice, or never lent) is ignored.
func (p *Port) RecycleBuffer(id uint16) {
	if p.bufs != nil && !p.closed.Load() && p.bufs.giveBack(id) {
		p.b.recycle(id)
	}
}

// BufferSize is the size of each provided buffer (0 without a pool).
func (p *Port) BufferSize() int {
	if p.bufs == nil {
		return 0
	}
	return p.bufs.size
}

// InFlight counts keys whose operation has not yet completed finally,
// including released ones.
func (p *Port) InFlight() int { return p.slots.inFlight() }

// closeDrainLimit bounds how long Close waits for cancelled operations to
// report; an operation the kernel cannot cancel (a regular-file read stuck
// in a driver) must not hang the program's shutdown. A variable so that
// the port's own tests can shorten it.
var closeDrainLimit = 2 * time.Second

// abandoned keeps the ports closed with operations still in flight, and so
// everything those operations point at: their buffers, messages and the
// provided-buffer pool, which the kernel may still write after Close has
// returned. Their memory is never given back; that is the price of an
// operation the kernel would not end, rather than a late write into memory
// the process has reused.
var abandoned struct {
	mu    sync.Mutex
	ports []*Port
}

// Close cancels what is in flight, waits for the kernel to let go of it and
// releases the port. Completions that arrive while draining are dropped;
// callers that care drain with Cancel and Wait before closing. The memory
// the kernel may write is freed only once every operation has completed
// finally; if some have not within closeDrainLimit, the port keeps it
// (see abandoned) and Close returns ErrStuckOps. Later calls return
// ErrClosed.
func (p *Port) Close() error {
	if p.closed.Swap(true) {
		return ErrClosed
	}
	if p.slots.inFlight() > 0 && p.b.cancelAll() == nil {
		var out [64]Completion
		deadline := time.Now().Add(closeDrainLimit)
		for p.slots.inFlight() > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			if _, err := p.collect(out[:], left); err != nil {
				break
			}
		}
	}
	err := p.b.close()
	if n := p.slots.inFlight(); n > 0 {
		abandoned.mu.Lock()
		abandoned.ports = append(abandoned.ports, p)
		abandoned.mu.Unlock()
		return fmt.Errorf("%w: %d operations never completed; their memory is kept", ErrStuckOps, n)
	}
	if p.bufs != nil {
		p.bufs.free()
	}
	return err
}

// errnoErr turns a completion result into an error: the one place where
// a negative result becomes a syscall.Errno.
func errnoErr(res int32) error {
	if res >= 0 {
		return nil
	}
	return syscall.Errno(-res)
}
