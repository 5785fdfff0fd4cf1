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
// they block the goroutine (each call is posted to the loop). From a flow
// of another loop they would block that loop's thread: hand the
// connection to a flow of its own loop instead (Conn.Loop).
//
// A parked Read holds no buffer of the connection's: arriving bytes are
// copied straight into the caller's slice.
type Conn struct {
	l            *loop.Loop
	t            transport.Transport
	net          string
	laddr, raddr net.Addr

	// Loop only from here on.
	buf      []byte // received, not yet read: buf[roff:]
	roff     int
	rpaused  bool // reading paused at readLimit
	eof      bool
	lost     bool
	cause    error
	closed   bool
	wpaused  bool // the transport asked to pause writing
	readers  waitq
	writers  waitq
	rdl, wdl time.Time
	rtimer   loop.Timer
	wtimer   loop.Timer
	rfire    func()
	wfire    func()
	made     func(*Conn) // ConnectionMade's hook for Dial and Listen
}

func newConn(network string) *Conn {
	c := &Conn{net: network}
	c.rfire = c.onReadDeadline
	c.wfire = c.onWriteDeadline
	return c
}

// The transport.Protocol half, called by the loop.

// ConnectionMade implements transport.Protocol.
func (c *Conn) ConnectionMade(t transport.Transport) {
	c.t, c.l = t, t.Loop()
	// Kept now: asked after close, the kernel would answer for another fd.
	c.laddr, c.raddr = t.LocalAddr(), t.RemoteAddr()
	if c.made != nil {
		c.made(c)
		c.made = nil
	}
}

// DataReceived implements transport.Protocol: fill waiting readers'
// slices first, keep the rest.
func (c *Conn) DataReceived(data []byte) {
	for len(data) > 0 && c.readers.head != nil && c.roff == len(c.buf) {
		w := c.readers.head
		n := copy(w.p, data)
		data = data[n:]
		w.n = n
		w.wake(nil)
	}
	if len(data) == 0 {
		return
	}
	c.buf = append(c.buf, data...)
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

// PauseWriting implements transport.Protocol.
func (c *Conn) PauseWriting() { c.wpaused = true }

// ResumeWriting implements transport.Protocol.
func (c *Conn) ResumeWriting() {
	c.wpaused = false
	c.writers.wakeAll(nil)
}

func (c *Conn) stopTimers() {
	if c.rtimer != 0 {
		c.l.CancelTimer(c.rtimer)
		c.rtimer = 0
	}
	if c.wtimer != 0 {
		c.l.CancelTimer(c.wtimer)
		c.wtimer = 0
	}
}

func (c *Conn) opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*net.OpError); ok {
		return err
	}
	return &net.OpError{Op: op, Net: c.net, Source: c.laddr, Addr: c.raddr, Err: err}
}

// expired reports whether deadline t has passed on the loop's clock.
func (c *Conn) expired(t time.Time) bool {
	return !t.IsZero() && !time.Now().Before(t)
}

// readStep is one try at a Read (loop only): it reports true when the call
// is over (w.n and w.err say how), or queues w to wait.
func (c *Conn) readStep(w *waiter) bool {
	switch {
	case w.n > 0 || w.err != nil:
		return true
	case c.closed:
		w.err = c.opErr("read", net.ErrClosed)
	case c.expired(c.rdl):
		w.err = c.opErr("read", os.ErrDeadlineExceeded)
	case len(w.p) == 0:
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
		if c.rtimer == 0 && !c.rdl.IsZero() {
			c.rtimer = c.l.CallAt(c.rdl, c.rfire)
		}
		return false
	}
	return true
}

// drained releases the buffer once read and resumes reading below the
// limit, so an idle connection keeps no buffer.
func (c *Conn) drained() {
	if c.roff == len(c.buf) {
		c.buf, c.roff = nil, 0
	}
	if c.rpaused && len(c.buf)-c.roff < readLimit/2 {
		c.rpaused = false
		c.t.ResumeReading()
	}
}

func (c *Conn) onReadDeadline() {
	c.rtimer = 0
	if c.expired(c.rdl) {
		c.readers.wakeAll(c.opErr("read", os.ErrDeadlineExceeded))
	} else if !c.rdl.IsZero() && c.readers.head != nil {
		c.rtimer = c.l.CallAt(c.rdl, c.rfire)
	}
}

// writeStep queues as much of w.p[w.n:] as the transport takes before it
// asks to pause; it reports true when the call is over.
func (c *Conn) writeStep(w *waiter) bool {
	for w.err == nil && w.n < len(w.p) {
		switch {
		case c.closed:
			w.err = c.opErr("write", net.ErrClosed)
		case c.lost:
			cause := c.cause
			if cause == nil {
				cause = net.ErrClosed
			}
			w.err = c.opErr("write", cause)
		case c.expired(c.wdl):
			w.err = c.opErr("write", os.ErrDeadlineExceeded)
		case c.wpaused:
			c.writers.push(w)
			if c.wtimer == 0 && !c.wdl.IsZero() {
				c.wtimer = c.l.CallAt(c.wdl, c.wfire)
			}
			return false
		default:
			end := min(len(w.p), w.n+writeChunk)
			if err := transport.WriteBeforePoll(c.t, w.p[w.n:end]); err != nil {
				w.err = c.opErr("write", err)
				break
			}
			w.n = end
		}
	}
	return true
}

func (c *Conn) onWriteDeadline() {
	c.wtimer = 0
	if c.expired(c.wdl) {
		c.writers.wakeAll(c.opErr("write", os.ErrDeadlineExceeded))
	} else if !c.wdl.IsZero() && c.writers.head != nil {
		c.wtimer = c.l.CallAt(c.wdl, c.wfire)
	}
}

// do runs step until it reports the call over: in a flow of c's loop by
// parking between tries, elsewhere by posting each try to the loop and
// blocking on a channel. ctx may be nil.
func (c *Conn) do(ctx context.Context, p []byte, step func(*Conn, *waiter) bool) (int, error) {
	if f := caller(ctx, c.l); f != nil && f.l == c.l {
		w := &f.w
		if err := f.check(ctx, true); err != nil {
			return 0, err
		}
		w.reset()
		w.p = p
		for !step(c, w) {
			if err := f.park(ctx, nil, true); err != nil {
				w.err = err
			}
			if err := f.check(ctx, true); err != nil && w.err == nil {
				w.err = err // cancelled while ready: do not park again
			}
		}
		w.p = nil
		return w.n, w.err
	}
	if c.l.InLoop() {
		return 0, ErrNotInFlow
	}
	w := newGoWaiter()
	w.p = p
	try := func() {
		if step(c, w) {
			w.done = true
			w.ch <- struct{}{}
		}
	}
	for !w.done {
		if err := c.l.Post(try); err != nil {
			return w.n, c.opErr("read", net.ErrClosed)
		}
		if err := goWait(c.l, ctx, w, abortGo); err != nil && !w.done {
			return w.n, err
		}
	}
	return w.n, w.err
}

// abortGo ends a goroutine's wait on the loop: off its list and woken
// with err, unless its step already finished.
func abortGo(w *waiter, err error) {
	if w.q != nil {
		w.wake(err)
	}
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) { return c.do(noCtx, p, (*Conn).readStep) }

// ReadContext is Read that also ends when ctx does.
func (c *Conn) ReadContext(ctx context.Context, p []byte) (int, error) {
	return c.do(ctx, p, (*Conn).readStep)
}

// Write implements net.Conn: it returns once all of p is queued on the
// transport, parking while the transport's write buffer is above its
// high watermark.
func (c *Conn) Write(p []byte) (int, error) { return c.do(noCtx, p, (*Conn).writeStep) }

// WriteContext is Write that also ends when ctx does.
func (c *Conn) WriteContext(ctx context.Context, p []byte) (int, error) {
	return c.do(ctx, p, (*Conn).writeStep)
}

// onLoop runs fn on c's loop and waits for it: at once on the loop,
// posted from elsewhere.
func (c *Conn) onLoop(fn func()) error {
	if c.l.InLoop() {
		fn()
		return nil
	}
	done := make(chan struct{})
	if err := c.l.Post(func() { fn(); close(done) }); err != nil {
		return err
	}
	<-done
	return nil
}

// Close implements net.Conn: queued data is flushed, then the socket is
// closed; parked Reads and Writes return net.ErrClosed.
func (c *Conn) Close() error {
	var err error
	if c.onLoop(func() {
		if c.closed {
			err = c.opErr("close", net.ErrClosed)
			return
		}
		c.closed = true
		c.stopTimers()
		c.readers.wakeAll(nil)
		c.writers.wakeAll(nil)
		c.buf, c.roff = nil, 0
		if !c.lost {
			c.t.Close()
		}
	}) != nil {
		return c.opErr("close", net.ErrClosed)
	}
	return err
}

// CloseWrite shuts down the writing side after the queued data.
func (c *Conn) CloseWrite() error {
	return c.opErr("close", c.t.WriteEOF())
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

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
			c.rdl = rt
			if c.rtimer != 0 {
				c.l.CancelTimer(c.rtimer)
				c.rtimer = 0
			}
			if c.readers.head != nil {
				c.onReadDeadline()
			}
		}
		if w {
			c.wdl = wt
			if c.wtimer != 0 {
				c.l.CancelTimer(c.wtimer)
				c.wtimer = 0
			}
			if c.writers.head != nil {
				c.onWriteDeadline()
			}
		}
	})
	if err != nil || closed {
		return c.opErr("set", net.ErrClosed)
	}
	return nil
}
