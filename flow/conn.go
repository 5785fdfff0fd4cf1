package flow

import (
	"context"
	"io"
	"net"
	"os"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// Read buffering: bytes that arrive while no Read waits are kept, up to
// readLimit; past it the connection stops reading (the kernel's buffer
// and then TCP's window push back on the peer) until a Read drains it.
const readLimit = 64 << 10

// writeChunk bounds how much one step of a Write queues on the transport,
// so a huge Write waits for the peer between chunks instead of copying
// everything into the queue at once.
const writeChunk = 64 << 10

// Conn is a stream connection for sequential code: it implements net.Conn.
// In a flow of its loop its calls park the flow; from a plain goroutine
// they block the goroutine (each call is posted to the loop); from a flow
// of another loop they park that flow on its own loop while this one does
// the work (a hop each way: a flow of the Conn's own loop, Conn.Loop, is
// cheaper). A callback may not wait: there they fail with ErrNotInFlow,
// but Close, which needs no wait, is posted.
//
// A parked Read holds no buffer of the connection's: arriving bytes are
// copied straight into the caller's slice. A parked Next holds no buffer
// at all: it returns the connection's own, taken from the loop's spares
// as data arrives and given back at the next read.
type Conn struct {
	l   *loop.Loop
	t   transport.Transport
	net string

	// Loop only from here on.
	buf     []byte // received, not yet read: buf[roff:]
	roff    int
	lentBuf []byte // an array Next lent that new data had to move out of
	cause   error
	readers waitq
	writers waitq
	rd, wd  deadline
	made    func(*Conn) // ConnectionMade's hook for Dial and Listen

	lent    bool // Next returned a view of buf: keep its array until the next read
	rpaused bool // reading paused at readLimit
	eof     bool
	lost    bool
	closed  bool
	wpaused bool // the transport asked to pause writing
}

func newConn(network string) *Conn {
	c := &Conn{net: network}
	return c
}

// The transport.Protocol half, called by the loop.

// ConnectionMade implements transport.Protocol.
func (c *Conn) ConnectionMade(t transport.Transport) {
	c.t, c.l = t, t.Loop()
	// Asked now, on the loop's stack, and kept by the transport: a flow
	// that asked first would make the kernel calls and the addresses'
	// allocations on its own small stack and keep the stack they grew.
	t.LocalAddr()
	t.RemoteAddr()
	if c.made != nil {
		c.made(c)
		c.made = nil
	}
}

// DataReceived implements transport.Protocol: fill waiting readers'
// slices first, keep the rest.
func (c *Conn) DataReceived(data []byte) {
	for len(data) > 0 && c.readers.head != nil && !c.readers.head.borrow && c.roff == len(c.buf) {
		w := c.readers.head
		n := copy(w.p, data)
		data = data[n:]
		w.n = n
		w.wake(nil)
	}
	if len(data) == 0 {
		return
	}
	c.keep(data)
	if w := c.readers.head; w != nil && w.borrow {
		w.wake(nil) // its step takes the data
	}
	if !c.rpaused && len(c.buf)-c.roff >= readLimit {
		c.rpaused = true
		c.t.PauseReading()
	}
}

// EOFReceived implements transport.Protocol; the connection stays open
// for writing, as a net.TCPConn does after the peer's FIN.
func (c *Conn) EOFReceived() bool {
	c.eof = true
	c.readers.wakeAll(nil)
	return true
}

// ConnectionLost implements transport.Protocol.
func (c *Conn) ConnectionLost(err error) {
	c.lost, c.cause = true, err
	c.stopTimers()
	c.readers.wakeAll(nil)
	c.writers.wakeAll(nil)
}

// ReadsWhileWritesPaused implements transport.ReadsWhileWritesPaused: a
// Conn reads while its writers are parked, as a net.Conn does (a flow may
// read while another writes), and bounds what it reads itself: reading
// pauses at readLimit unread bytes, and Write parks at the high watermark.
func (c *Conn) ReadsWhileWritesPaused() bool { return true }

// PauseWriting implements transport.Protocol.
func (c *Conn) PauseWriting() { c.wpaused = true }

// ResumeWriting implements transport.Protocol.
func (c *Conn) ResumeWriting() {
	c.wpaused = false
	c.writers.wakeAll(nil)
}

func (c *Conn) stopTimers() {
	c.rd.stop(c.l)
	c.wd.stop(c.l)
}

func (c *Conn) opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*net.OpError); ok {
		return err
	}
	return &net.OpError{Op: op, Net: c.net, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// readStep is one try at a Read (loop only): it reports true when the call
// is over (w.n and w.err say how), or queues w to wait.
func (c *Conn) readStep(w *waiter) bool {
	c.returnLent()
	switch {
	case w.n > 0 || w.err != nil:
		return true
	case c.closed:
		w.err = c.opErr("read", net.ErrClosed)
	case c.rd.expired():
		w.err = c.opErr("read", os.ErrDeadlineExceeded)
	case !w.borrow && len(w.p) == 0:
	case c.roff < len(c.buf) && w.borrow:
		// Capacity cut to length: an append by the caller copies
		// rather than writes into the buffer's spare room.
		w.p = c.buf[c.roff:len(c.buf):len(c.buf)]
		w.n = len(w.p)
		c.roff = len(c.buf)
		c.lent = true
		c.drained()
	case c.roff < len(c.buf):
		w.n = copy(w.p, c.buf[c.roff:])
		c.roff += w.n
		c.drained()
	case c.eof:
		w.err = io.EOF
	case c.lost:
		if c.cause == nil {
			w.err = io.EOF
		} else {
			w.err = c.opErr("read", c.cause)
		}
	default:
		c.readers.push(w)
		c.rd.arm(c.l)
		return false
	}
	return true
}

// keep appends data to the unread bytes, moving them to a larger buffer
// from the loop's spares when there is no room, or when the buffer is
// lent: Next's caller may still be reading it.
func (c *Conn) keep(data []byte) {
	if !c.lent && cap(c.buf)-len(c.buf) >= len(data) {
		c.buf = append(c.buf, data...)
		return
	}
	rb := loopReadBuffers.Get(c.l)
	unread := c.buf[c.roff:]
	nb := rb.get(len(unread) + len(data))
	nb = append(append(nb, unread...), data...)
	if c.lent {
		c.lentBuf, c.lent = c.buf, false
	} else if c.buf != nil {
		rb.put(c.buf)
	}
	c.buf, c.roff = nb, 0
}

// returnLent takes back what the last Next lent: a read call begins.
func (c *Conn) returnLent() {
	if c.lentBuf != nil {
		loopReadBuffers.Get(c.l).put(c.lentBuf)
		c.lentBuf = nil
	}
	if c.lent {
		c.lent = false
		c.releaseIfRead()
	}
}

// releaseIfRead gives the buffer back once all of it is read, so an idle
// connection keeps none.
func (c *Conn) releaseIfRead() {
	if c.roff == len(c.buf) && c.buf != nil {
		loopReadBuffers.Get(c.l).put(c.buf)
		c.buf, c.roff = nil, 0
	}
}

// Next parks until bytes have arrived and returns all that are buffered,
// without copying them: the slice is the connection's own and stays valid
// until the next Read or Next on c, even if c is closed meanwhile. Parked
// in Next, a flow holds no read buffer, so a server of mostly idle
// connections costs little more than their flows' stacks. At the end of
// the stream it returns io.EOF; it honours the read deadline like Read.
func (c *Conn) Next() ([]byte, error) { return c.NextContext(noCtx) }

// NextContext is Next that also ends when ctx does.
func (c *Conn) NextContext(ctx context.Context) ([]byte, error) {
	b, _, err := c.do(ctx, "read", nil, (*Conn).nextStep)
	return b, err
}

// nextStep is one try at a Next: a readStep that lends the buffered
// bytes rather than copying them.
func (c *Conn) nextStep(w *waiter) bool {
	w.borrow = true
	return c.readStep(w)
}

// awaitData parks until bytes are buffered to read, or a read would fail,
// without taking any: the read that follows gets them, or the error.
func (c *Conn) awaitData(ctx context.Context) error {
	_, _, err := c.do(ctx, "read", nil, (*Conn).dataStep)
	return err
}

// dataStep is one try at an awaitData: a Next's step that leaves the
// buffered bytes where they are.
func (c *Conn) dataStep(w *waiter) bool {
	if w.err == nil && c.roff < len(c.buf) {
		return true
	}
	w.borrow = true
	return c.readStep(w)
}

// drained releases the buffer once read (unless it is lent) and resumes
// reading below the limit.
func (c *Conn) drained() {
	if !c.lent {
		c.releaseIfRead()
	}
	if c.rpaused && len(c.buf)-c.roff < readLimit/2 {
		c.rpaused = false
		c.t.ResumeReading()
	}
}

func (c *Conn) onReadDeadline() { c.rd.fired(c.l, &c.readers, c.readTimeout) }

func (c *Conn) readTimeout() error { return c.opErr("read", os.ErrDeadlineExceeded) }

// writeStep queues as much of w.p[w.n:] as the transport takes before it
// asks to pause; it reports true when the call is over.
func (c *Conn) writeStep(w *waiter) bool {
	for w.err == nil && w.n < len(w.p) {
		if !c.writable(w) {
			return false
		}
		if w.err != nil {
			break
		}
		end := min(len(w.p), w.n+writeChunk)
		if err := transport.WriteBeforePoll(c.t, w.p[w.n:end]); err != nil {
			w.err = c.opErr("write", err)
			break
		}
		w.n = end
	}
	return true
}

// writable is the step of a wait until the transport takes writes: it
// queues w and arms the write deadline while writing is paused (false),
// else reports true, with w.err set if the connection takes no more.
func (c *Conn) writable(w *waiter) bool {
	if err := c.writeEnded(); err != nil {
		w.err = err
		return true
	}
	switch {
	case c.wd.expired():
		w.err = c.writeTimeout()
	case c.wpaused:
		c.writers.push(w)
		c.wd.arm(c.l)
		return false
	}
	return true
}

// writeEnded returns the error of a write on a closed or lost connection,
// or nil.
func (c *Conn) writeEnded() error {
	switch {
	case c.closed:
		return c.opErr("write", net.ErrClosed)
	case c.lost:
		cause := c.cause
		if cause == nil {
			cause = net.ErrClosed
		}
		return c.opErr("write", cause)
	}
	return nil
}

func (c *Conn) onWriteDeadline() { c.wd.fired(c.l, &c.writers, c.writeTimeout) }

func (c *Conn) writeTimeout() error { return c.opErr("write", os.ErrDeadlineExceeded) }

// do runs step until it reports the call over: in a flow of c's loop by
// parking between tries, elsewhere by posting each try to the loop and
// blocking on a channel. ctx may be nil.
func (c *Conn) do(ctx context.Context, op string, p []byte, step func(*Conn, *waiter) bool) (out []byte, n int, err error) {
	if f := caller(ctx, c.l); f != nil && f.l == c.l {
		w := &f.w
		if err := f.check(ctx, true); err != nil {
			return nil, 0, err
		}
		w.reset()
		w.p = p
		for !step(c, w) {
			if err := f.park(ctx, nil, cancellable); err != nil {
				w.err = err
			}
			if err := f.check(ctx, true); err != nil && w.err == nil {
				w.err = err // cancelled while ready: do not park again
			}
		}
		out, w.p = w.p, nil
		return out, w.n, w.err
	}
	if c.l.InLoop() {
		return nil, 0, ErrNotInFlow
	}
	w := newGoWaiter()
	w.p = p
	if err := awaitOn(c.l, ctx, w, func(w *waiter) bool { return step(c, w) }, abortGo); err != nil {
		if err == loop.ErrClosed {
			err = c.opErr(op, net.ErrClosed)
		}
		return nil, w.n, err
	}
	return w.p, w.n, w.err
}

// abortGo ends a goroutine's wait on the loop: off its list and woken
// with err, unless its step already finished.
func abortGo(w *waiter, err error) {
	if w.q != nil {
		w.wake(err)
	}
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	_, n, err := c.do(noCtx, "read", p, (*Conn).readStep)
	return n, err
}

// ReadContext is Read that also ends when ctx does.
func (c *Conn) ReadContext(ctx context.Context, p []byte) (int, error) {
	_, n, err := c.do(ctx, "read", p, (*Conn).readStep)
	return n, err
}

// Write implements net.Conn: it returns once all of p is queued on the
// transport, parking while the transport's write buffer is above its
// high watermark.
func (c *Conn) Write(p []byte) (int, error) {
	if c.writeNow(p) {
		return len(p), nil
	}
	return c.writeWaiting(p)
}

// writeWaiting is Write's general path: from any goroutine, and with the
// waits for the transport to take more. Out of line, so that its frame
// is not part of Write's on writeNow's path.
//
//go:noinline
func (c *Conn) writeWaiting(p []byte) (int, error) {
	_, n, err := c.do(noCtx, "write", p, (*Conn).writeStep)
	return n, err
}

// writeNow queues p at once and reports true when a flow of c's loop
// writes what the transport takes without a wait, the common case;
// otherwise it does nothing and Write takes the general path. It keeps
// the frames under the copy into the write queue few: a flow's stack
// starts at 2 KiB, of which a call chain may use about half before the
// runtime doubles it, and a stack that has grown stays grown while its
// flow is parked (the runtime shrinks only stacks less than a quarter
// used), so Write's general path through do and writeStep, reaching the
// copy some 900 bytes deep, left every echoing flow of a server holding
// 4 KiB of stack.
func (c *Conn) writeNow(p []byte) bool {
	if len(p) == 0 || len(p) > writeChunk {
		return false
	}
	// The loop's fields are read only once the caller is known to be a
	// flow of c's loop.
	f := caller(noCtx, c.l)
	if f == nil || f.l != c.l || c.wpaused || c.closed || c.lost ||
		f.check(noCtx, true) != nil || c.wd.expired() {
		return false
	}
	return transport.WriteBeforePoll(c.t, p) == nil
}

// WriteContext is Write that also ends when ctx does.
func (c *Conn) WriteContext(ctx context.Context, p []byte) (int, error) {
	_, n, err := c.do(ctx, "write", p, (*Conn).writeStep)
	return n, err
}

// onLoop runs fn on c's loop and waits for it (runOnOwner).
func (c *Conn) onLoop(fn func()) error { return runOnOwner(c.l, fn) }

// Close implements net.Conn: queued data is flushed, then the socket is
// closed; parked Reads and Writes return net.ErrClosed. It works from
// anywhere: called from a callback of another loop, which may not wait,
// it asks the owner to close and returns nil.
func (c *Conn) Close() error {
	var err error
	ran, perr := runOrPost(c.l, func() {
		if c.closed {
			err = c.opErr("close", net.ErrClosed)
			return
		}
		c.closed = true
		c.stopTimers()
		c.readers.wakeAll(nil)
		c.writers.wakeAll(nil)
		// What Next lent goes to the collector, not to the loop's spares:
		// a Close from another goroutine may come while the reader still
		// reads it, and the next connection to receive would write over it.
		if c.buf != nil && !c.lent {
			loopReadBuffers.Get(c.l).put(c.buf)
		}
		c.buf, c.roff, c.lent, c.lentBuf = nil, 0, false, nil
		if !c.lost {
			c.t.Close()
		}
	})
	switch {
	case perr != nil:
		return c.opErr("close", net.ErrClosed)
	case !ran:
		return nil
	}
	return err
}

// CloseWrite shuts down the writing side after the queued data.
func (c *Conn) CloseWrite() error {
	return c.opErr("close", c.t.WriteEOF())
}

// LocalAddr implements net.Conn: the transport's, which keeps them from
// ConnectionMade on; nil before the connection is made.
func (c *Conn) LocalAddr() net.Addr {
	if c.t == nil {
		return nil
	}
	return c.t.LocalAddr()
}

// RemoteAddr implements net.Conn, as LocalAddr does.
func (c *Conn) RemoteAddr() net.Addr {
	if c.t == nil {
		return nil
	}
	return c.t.RemoteAddr()
}

// Loop is the loop the connection lives on.
func (c *Conn) Loop() *loop.Loop { return c.l }

// Transport is the connection's transport.
func (c *Conn) Transport() transport.Transport { return c.t }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	return c.setDeadlines(t, t, true, true)
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setDeadlines(t, time.Time{}, true, false)
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadlines(time.Time{}, t, false, true)
}

// setDeadlines applies new deadlines to later calls and to parked ones:
// a deadline already past wakes them now, a later one re-arms the timer.
func (c *Conn) setDeadlines(rt, wt time.Time, r, w bool) error {
	var closed bool
	err := c.onLoop(func() {
		if c.closed {
			closed = true
			return
		}
		if r {
			if c.rd.fire == nil {
				c.rd.fire = c.onReadDeadline
			}
			c.rd.set(c.l, rt, &c.readers)
		}
		if w {
			if c.wd.fire == nil {
				c.wd.fire = c.onWriteDeadline
			}
			c.wd.set(c.l, wt, &c.writers)
		}
	})
	if err != nil || closed {
		return c.opErr("set", net.ErrClosed)
	}
	return nil
}
