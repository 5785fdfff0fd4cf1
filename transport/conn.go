package transport

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// Connection state bits. Only the loop's goroutine reads or writes them.
const (
	stRecvArmed    uint16 = 1 << iota // a multishot recv is in flight on recvKey
	stReadPaused                      // the protocol asked for no DataReceived
	stSending                         // an op (send, shutdown or close) is in flight on sendKey
	stWriteEOF                        // WriteEOF asked: shut writing down once the queue drains
	stEOFSent                         // the shutdown went out
	stClosing                         // Close asked: flush, then close
	stAborting                        // closing now, queued data dropped
	stFDClosing                       // the close op is in flight
	stDone                            // ConnectionLost delivered, keys released
	stWritePaused                     // the protocol was told PauseWriting
	stFlushQueued                     // queued with the loop's Flushers
	stBackpressure                    // reading paused while writing is: the peer is not reading
	stEOFHeld                         // the peer's EOF came while reading was paused
	stCautious                        // reading has paused before: one buffer per receive
)

// What the op on sendKey is.
const (
	sendData uint8 = iota
	sendShutdown
	sendClose
)

// Default write-buffer watermarks, asyncio's.
const (
	defaultHighWater = 64 << 10
	defaultLowWater  = 16 << 10
)

// conn is a stream transport (TCP or Unix) on one loop. Two keys carry its
// operations: one multishot recv that takes provided buffers, so an idle
// connection holds no read buffer, and one send at a time, since two sends
// in flight on one socket may be reordered by the kernel. The send key is
// registered only while something is being sent.
//
// A server holds many of these, mostly idle, so the struct keeps only what
// every connection needs (80 bytes); what few connections use lives in
// connExtra, allocated on first use.
type conn struct {
	l     *loop.Loop
	proto Protocol

	fd       int32
	state    uint16
	sendKind uint8
	kind     uint8 // kindTCP or kindUnix, for errors and addresses

	recvKey port.Key
	sendKey port.Key // zero while nothing is queued or in flight

	wq writeQueue

	queued atomic.Int32              // bytes in wq, for WriteBufferSize from any goroutine
	other  atomic.Uint32             // offClosed, offEOF: what other goroutines check; the receive cap
	attrs  atomic.Pointer[connAttrs] // the user's value and the addresses, for any goroutine
	x      *connExtra
}

// connExtra is the state of the few connections that pause, time out, or
// fail: allocated when first needed.
type connExtra struct {
	high, low  int    // write-buffer watermarks, once set
	limit      int    // write-queue limit, once set
	cause      error  // why the connection was lost; nil for a clean close
	held       []byte // data that arrived after reading paused: held[heldOff:]
	heldOff    int
	idle       time.Duration
	lastActive time.Time
	idleTimer  loop.Timer
	deadline   loop.Timer
}

// Bits of conn.other: two flags that any goroutine may set, and above them
// the receive cap (SetReceiveSize; 0: a whole buffer), which only the loop
// changes. Sharing one word keeps the conn in the 80-byte size class.
const (
	offClosed    uint32 = 1 << iota // Close, Abort or a loss has begun
	offEOF                          // WriteEOF was called
	offRecvShift = iota             // the receive cap's lowest bit
)

// maxRecvSize is the largest receive cap the bits above the flags hold;
// no provided buffer is larger (port.Config.BufferSize is at most 1 GiB).
const maxRecvSize = 1<<(32-offRecvShift) - 1

// recvSize is the most one receive takes; 0: a whole buffer.
func (c *conn) recvSize() int { return int(c.other.Load() >> offRecvShift) }

// setRecvSize sets the receive cap (loop only), keeping the flags that
// other goroutines may be setting meanwhile.
func (c *conn) setRecvSize(n int) {
	for {
		old := c.other.Load()
		if c.other.CompareAndSwap(old, old&(1<<offRecvShift-1)|uint32(n)<<offRecvShift) {
			return
		}
	}
}

// Kinds of stream connection.
const (
	kindTCP uint8 = iota
	kindUnix
)

func (c *conn) extra() *connExtra {
	if c.x == nil {
		c.x = &connExtra{}
	}
	return c.x
}

// shared is the loop's pools (loop only). The first connection to use
// them tells them their loop, for the trim's timer.
func (c *conn) shared() *shared {
	s := sharedLocal.Get(c.l)
	if s.l == nil {
		s.l = c.l
	}
	return s
}

func (c *conn) network() string {
	if c.kind == kindUnix {
		return "unix"
	}
	return "tcp"
}

func (c *conn) watermarks() (high, low int) {
	if c.x != nil && c.x.high > 0 {
		return c.x.high, c.x.low
	}
	return defaultHighWater, defaultLowWater
}

// queueLimit is the write-queue limit: never below twice the high
// watermark, so that a writer that waits for ResumeWriting (a flow's
// Write) never meets it, whatever the watermarks are raised to.
func (c *conn) queueLimit() int {
	limit := DefaultWriteQueueLimit
	if c.x != nil {
		if c.x.limit > 0 {
			limit = c.x.limit
		}
		limit = max(limit, 2*c.x.high)
	}
	return limit
}

func (c *conn) markClosed() { c.other.Or(offClosed) }

func (c *conn) isClosed() bool { return c.other.Load()&offClosed != 0 }

// newConn wraps connected socket fd on loop l (on l's goroutine) and
// starts it: ConnectionMade, then reading. The protocol comes from mk,
// called only once the connection has its key: a connection the loop
// cannot take (it is closing) makes no protocol, rather than one that
// would never hear ConnectionMade or ConnectionLost.
func newConn(l *loop.Loop, fd int, network string, dialed bool, mk func() Protocol) (*conn, error) {
	c := &conn{l: l, fd: int32(fd)}
	if network == "unix" {
		c.kind = kindUnix
	}
	var err error
	if c.recvKey, err = l.RegisterHandler(c); err != nil {
		return nil, err
	}
	if dialed {
		l.Counters().ConnsDialed.Add(1)
	} else {
		l.Counters().ConnsAccepted.Add(1)
	}
	if keepAddressesFromStart {
		c.addresses()
	}
	c.proto = mk()
	c.proto.ConnectionMade(c)
	c.armRecv()
	return c, nil
}

func (c *conn) has(bits uint16) bool { return c.state&bits != 0 }

// armRecv starts the multishot recv unless reading is paused or over.
func (c *conn) armRecv() {
	if c.has(stRecvArmed | stReadPaused | stBackpressure | stClosing | stAborting | stDone) {
		return
	}
	limit := recvBurst
	if c.has(stCautious) {
		limit = 1 // ends after its first completion, at most a buffer
	}
	size := c.recvSize()
	if size > 0 {
		// What one arm takes before the protocol can pause it stays small
		// too: one receive's worth, or little more. What comes after a
		// pause until its cancel lands is held, and a stalled peer keeps
		// that for as long as it stalls.
		limit = min(limit, size)
	}
	if err := c.l.Submit(c.recvKey, port.RecvMultishotCapped(int(c.fd), limit, size)); err != nil {
		c.lose(c.opErr("read", err))
		return
	}
	c.state |= stRecvArmed
}

// Complete is the loop's callback for both keys.
func (c *conn) Complete(comp port.Completion) {
	if comp.Key == c.recvKey {
		c.onRecv(comp)
	} else {
		c.onSend(comp)
	}
}

func (c *conn) onRecv(comp port.Completion) {
	if comp.Res > 0 {
		if id, ok := comp.BufferID(); ok {
			c.deliverBuffer(comp, id)
		}
	}
	if comp.More() {
		return
	}
	c.state &^= stRecvArmed
	switch err := comp.Err(); {
	case comp.Res > 0:
		// The receive ended at its limit; read on. One that was taken
		// whole without a pause shows the protocol keeps up again: the
		// next receives may burst.
		if !c.has(stReadPaused | stBackpressure) {
			c.state &^= stCautious
		}
		c.armRecv()
		// A Close made while this completion was delivered cancelled a
		// receive that had already ended: no completion is left to
		// finish the close but this one.
		c.finishIfIdle()
	case comp.Res == 0:
		c.eofReceived()
	case err == syscall.ECANCELED:
		// A ResumeReading that came before this cancel (of PauseReading)
		// completed found the recv still armed; arm it now.
		c.armRecv()
		c.finishIfIdle()
	case err == syscall.ENOBUFS:
		// The pool ran dry under a burst; every buffer of the completions
		// before this one is back already, so re-arm now (or, closing,
		// finish).
		c.armRecv()
		c.finishIfIdle()
	default:
		c.lose(c.opErr("read", os.NewSyscallError("recv", err)))
	}
}

// deliverBuffer delivers a provided buffer's data and gives the buffer
// back to the pool even if the protocol panics: the loop recovers the
// panic, and a buffer kept by every panic would leave the loop's pool dry.
func (c *conn) deliverBuffer(comp port.Completion, id uint16) {
	p := c.l.Port()
	defer p.RecycleBuffer(id)
	data := p.Buffer(comp)
	c.l.Counters().BytesIn.Add(uint64(len(data)))
	c.deliver(data)
}

// enqueue adds b to the write queue, and to the loop's count of queued
// bytes.
func (c *conn) enqueue(b []byte) {
	c.queued.Add(int32(len(b)))
	c.wq.push(c.shared(), b)
	c.l.Counters().WriteQueued.Add(int64(len(b)))
}

// sent takes n sent bytes off the queue and the loop's counts.
func (c *conn) sent(n int) {
	c.queued.Add(-int32(n))
	c.wq.consume(c.shared(), n)
	k := c.l.Counters()
	k.WriteQueued.Add(-int64(n))
	k.BytesOut.Add(uint64(n))
	c.active()
}

// active notes that bytes left, for the idle timeout.
func (c *conn) active() {
	if c.x != nil && c.x.idle > 0 {
		c.x.lastActive = c.l.Now()
	}
}

// uncount takes what is queued off the connection's count and the loop's,
// before the queue is dropped.
func (c *conn) uncount() { c.l.Counters().WriteQueued.Add(-int64(c.queued.Swap(0))) }

// queuedBytes is how many bytes wait in the write queue.
func (c *conn) queuedBytes() int { return int(c.queued.Load()) }

// deliver hands data to the protocol, or holds it while reading is paused.
func (c *conn) deliver(data []byte) {
	if c.has(stClosing | stAborting | stDone) {
		return
	}
	if x := c.x; x != nil && x.idle > 0 {
		x.lastActive = c.l.Now()
	}
	if c.has(stReadPaused | stBackpressure) {
		// The recv's cancel is on its way; what arrives before it is
		// kept for the resume.
		x := c.extra()
		x.held = append(x.held, data...)
		return
	}
	c.proto.DataReceived(data)
}

func (c *conn) eofReceived() {
	if c.has(stClosing | stAborting | stDone) {
		c.finishIfIdle()
		return
	}
	if c.has(stReadPaused | stBackpressure) {
		// It comes after the data held for the resume.
		c.state |= stEOFHeld
		return
	}
	if !c.proto.EOFReceived() {
		c.close()
	}
}

// onSend is the send key's callback: a send, the shutdown or the close.
func (c *conn) onSend(comp port.Completion) {
	c.state &^= stSending
	if m := c.wq.takeMsg(); m != nil {
		c.shared().putMsg(m)
	}
	switch c.sendKind {
	case sendClose:
		c.finish()
		return
	case sendShutdown:
		if err := comp.Err(); err != nil && err != syscall.ENOTCONN {
			c.lose(c.opErr("shutdown", os.NewSyscallError("shutdown", err)))
			return
		}
		c.state |= stEOFSent
		c.flush()
		return
	}
	if err := comp.Err(); err != nil {
		if c.has(stAborting) {
			c.finishIfIdle()
			return
		}
		c.sendFailed(err)
		return
	}
	if c.has(stAborting) {
		c.finishIfIdle()
		return
	}
	c.sent(int(comp.Res))
	// What the socket takes at once leaves before the watermark check, so
	// a queue it drains resumes the writer here: no send completion would
	// come later to do it.
	if c.sendsNow() && !c.sendQueuedNow() {
		return
	}
	c.resumeBelowLow()
	c.flush()
}

// resumeBelowLow resumes a protocol paused above the high watermark once
// the queue is down to the low one.
func (c *conn) resumeBelowLow() {
	if c.has(stWritePaused) {
		if _, low := c.watermarks(); c.queuedBytes() <= low {
			c.state &^= stWritePaused
			c.proto.ResumeWriting()
			if c.has(stBackpressure) {
				c.state &^= stBackpressure
				c.resumeDelivery()
			}
		}
	}
}

// flush sends what the socket takes at once where the port can
// (sendnow.go), then starts the next op on sendKey: a send of what is
// still queued, else the shutdown WriteEOF asked for, else the close
// Close asked for.
func (c *conn) flush() {
	if c.has(stSending | stAborting | stDone) {
		return
	}
	if c.sendsNow() && !c.sendQueuedNow() {
		return
	}
	segs := c.wq.pending(maxIovecs)
	fd := int(c.fd)
	var op port.Op
	switch {
	case len(segs) == 1:
		op, c.sendKind = port.Send(fd, segs[0].bytes()), sendData
	case len(segs) > 1:
		m := c.shared().getMsg()
		for i := range segs {
			m.Buffers = append(m.Buffers, segs[i].bytes())
		}
		c.wq.sendingMsg(m)
		op, c.sendKind = port.SendMsg(fd, m), sendData
	case c.has(stWriteEOF) && !c.has(stEOFSent):
		op, c.sendKind = port.Shutdown(fd, port.ShutWrite), sendShutdown
	case c.has(stClosing):
		c.finishIfIdle()
		return
	default:
		c.releaseSendKey()
		return
	}
	if err := c.submitSend(op); err != nil {
		if m := c.wq.takeMsg(); m != nil {
			c.shared().putMsg(m)
		}
		c.lose(c.opErr("write", err))
		return
	}
	c.state |= stSending
}

// submitSend starts op on the send key, registering the key first if the
// connection had nothing to send.
func (c *conn) submitSend(op port.Op) error {
	if c.sendKey == 0 {
		k, err := c.l.RegisterHandler(c)
		if err != nil {
			return err
		}
		c.sendKey = k
	}
	return c.l.Submit(c.sendKey, op)
}

// releaseSendKey gives the send key back once nothing is queued or in
// flight: an idle connection holds one key, not two.
func (c *conn) releaseSendKey() {
	if c.sendKey != 0 && !c.has(stSending) {
		c.l.Release(c.sendKey)
		c.sendKey = 0
	}
}

// write queues b and starts sending it; it runs on the loop.
func (c *conn) write(b []byte) error {
	if err := c.writable(); err != nil || len(b) == 0 {
		return err
	}
	if c.wq.segs == nil && !c.has(stSending) && c.sendsNow() {
		// Nothing is queued to overtake: what the socket takes now needs
		// no copy, no key and no completion.
		n, err := c.l.Port().SendNow(int(c.fd), b)
		if err != nil {
			c.sendFailed(err)
			return nil
		}
		c.sentNow(n)
		if b = b[n:]; len(b) == 0 {
			return nil
		}
		// The socket is full: the rest is queued, and flush's own try at
		// once costs no system call on a socket the port knows is full.
	}
	c.enqueue(b)
	c.flush()
	c.checkHighWater()
	return nil
}

// writev queues every piece before it starts sending, so that pieces
// written together (a response's head and body) leave in one send.
func (c *conn) writev(bufs [][]byte) error {
	if err := c.writable(); err != nil {
		return err
	}
	for _, b := range bufs {
		if len(b) > 0 {
			c.enqueue(b)
		}
	}
	c.flush()
	c.checkHighWater()
	return nil
}

// writeBeforePoll queues b; the send starts from FlushBeforePoll. On the
// loop. It runs on a flow's stack, which starts at 2 KiB and is doubled,
// for good, by a call chain deeper than about half of it: so it queues b
// itself, as enqueue does, rather than through enqueue's frame.
func (c *conn) writeBeforePoll(b []byte) error {
	if err := c.writable(); err != nil || len(b) == 0 {
		return err
	}
	c.queued.Add(int32(len(b)))
	c.wq.push(c.shared(), b)
	c.l.Counters().WriteQueued.Add(int64(len(b)))
	if !c.has(stSending | stFlushQueued) {
		c.state |= stFlushQueued
		c.l.FlushBeforePoll(c)
	}
	c.checkHighWater()
	return nil
}

// FlushBeforePoll implements loop.Flusher.
func (c *conn) FlushBeforePoll() {
	c.state &^= stFlushQueued
	c.flush()
	// writeBeforePoll may have paused the writer before anything was sent;
	// if the socket took it all at once, no send completion will resume it.
	if !c.has(stAborting | stDone) {
		c.resumeBelowLow()
	}
}

// writable says why a write cannot be queued now, or nil. The limit
// applies to what is already queued, so one write of any size is taken
// whole by a connection that keeps up, and a refused write leaves the
// queue as it was.
func (c *conn) writable() error {
	if c.has(stClosing | stAborting | stDone) {
		return ErrClosed
	}
	if c.has(stWriteEOF) {
		return ErrWriteAfterEOF
	}
	if c.queuedBytes() >= c.queueLimit() {
		return ErrWriteQueueFull
	}
	return nil
}

// checkHighWater tells the protocol to pause once the queue passes the
// high watermark, and stops reading until it drains, unless the protocol
// paces its reading itself: a peer that sends without reading then fills
// its own socket buffer rather than this process's memory.
func (c *conn) checkHighWater() {
	if c.has(stWritePaused) {
		return
	}
	if high, _ := c.watermarks(); c.queuedBytes() <= high {
		return
	}
	c.state |= stWritePaused
	c.proto.PauseWriting()
	if c.has(stClosing|stAborting|stDone) || readsWhileWritesPaused(c.proto) {
		return
	}
	c.state |= stBackpressure | stCautious
	if c.has(stRecvArmed) {
		c.l.Cancel(c.recvKey)
	}
}

// readsWhileWritesPaused reports whether p opted out of the automatic
// read pause.
func readsWhileWritesPaused(p Protocol) bool {
	o, ok := p.(ReadsWhileWritesPaused)
	return ok && o.ReadsWhileWritesPaused()
}

// recvBurst is how much one multishot receive takes before it is armed
// again: the most a connection reads past the moment its reading pauses.
// Without it the kernel fills every free buffer of the loop's pool for one
// busy socket, megabytes that a paused connection then holds. After a
// connection's reading pauses (stCautious) its next receive ends after one
// completion, a buffer at most, and bursts resume once one such receive
// is taken without a pause: a protocol that cannot keep up with its peer
// holds less past its next pause, and one that caught up reads at full
// speed.
const recvBurst = 32 << 10

// heldPiece is the most of the held data one DataReceived gets.
const heldPiece = 16 << 10

// resumeDelivery hands over what arrived while reading was paused and
// reads again, unless a pause of either kind still holds.
func (c *conn) resumeDelivery() {
	if c.has(stReadPaused | stBackpressure | stClosing | stAborting | stDone) {
		return
	}
	if x := c.x; x != nil && len(x.held) > 0 {
		// In pieces no larger than a receive, so a protocol that pauses
		// again at once gets no more than it would from the socket; the
		// rest waits here, and the socket stays unread meanwhile.
		for x.heldOff < len(x.held) {
			piece := x.held[x.heldOff:min(len(x.held), x.heldOff+heldPiece)]
			x.heldOff += len(piece)
			c.proto.DataReceived(piece)
			if c.has(stReadPaused | stBackpressure | stClosing | stAborting | stDone) {
				// The protocol paused or ended in DataReceived. What it
				// took need not stay allocated while it is paused.
				if x.heldOff >= len(x.held)/2 {
					x.held, x.heldOff = append([]byte(nil), x.held[x.heldOff:]...), 0
				}
				return
			}
		}
		x.held, x.heldOff = nil, 0
	}
	if c.has(stEOFHeld) {
		c.state &^= stEOFHeld
		c.eofReceived()
		return
	}
	c.armRecv()
}

// close is Close on the loop: no more reading, flush, then close the fd.
func (c *conn) close() error {
	if c.has(stClosing | stAborting | stDone) {
		return ErrClosed
	}
	c.state |= stClosing
	c.markClosed()
	c.stopTimers()
	if c.has(stRecvArmed) {
		c.l.Cancel(c.recvKey)
	}
	c.flush()
	return nil
}

// lose records why the connection failed and aborts it.
func (c *conn) lose(err error) {
	if x := c.extra(); x.cause == nil {
		x.cause = err
	}
	c.abort()
}

// abort closes at once: queued data is dropped and ops are cancelled.
func (c *conn) abort() {
	if c.has(stAborting | stDone) {
		// An op cancelled by the abort may end with its own error instead
		// of ECANCELED (IOCP reports a reset peer that way) and come back
		// here through lose: it may have been the last op in flight.
		c.finishIfIdle()
		return
	}
	c.state |= stAborting
	c.markClosed()
	c.stopTimers()
	if c.has(stSending) {
		// The kernel may still read the chunks of the send in flight: let
		// the collector have them rather than hand them to another writer.
		c.uncount()
		c.wq.drop()
		if !c.has(stFDClosing) {
			c.l.Cancel(c.sendKey)
		}
	} else {
		c.uncount()
		c.wq.reset(c.shared())
	}
	if c.has(stRecvArmed) {
		c.l.Cancel(c.recvKey)
	}
	c.finishIfIdle()
}

// finishIfIdle closes the fd once no op is in flight on either key.
func (c *conn) finishIfIdle() {
	if !c.has(stClosing|stAborting) || c.has(stRecvArmed|stSending|stFDClosing|stDone) {
		return
	}
	if c.has(stClosing) && !c.has(stAborting) && c.queuedBytes() > 0 {
		c.flush()
		return
	}
	c.addresses() // kept for ConnectionLost and later callers
	if c.has(stAborting) && c.kind == kindTCP {
		// Whatever was queued is gone: the peer must see a reset, not a
		// clean end of a truncated stream. (A Unix socket has no reset; its
		// peer reads an end of stream, and only this side's protocol hears
		// of the loss.)
		_ = sock.ResetOnClose(int(c.fd))
	}
	c.sendKind = sendClose
	if err := c.submitSend(port.Close(int(c.fd))); err != nil {
		// The loop is closing; close synchronously so the fd is not leaked.
		closeWatched(c.l, int(c.fd))
		c.finish()
		return
	}
	c.state |= stSending | stFDClosing
}

// finish runs after the fd is closed: keys go back, the protocol hears
// ConnectionLost once.
func (c *conn) finish() {
	if c.has(stDone) {
		return
	}
	c.state |= stDone
	c.l.Release(c.recvKey)
	if c.sendKey != 0 {
		c.l.Release(c.sendKey)
		c.sendKey = 0
	}
	c.uncount()
	c.wq.reset(c.shared())
	c.l.Counters().ConnsClosed.Add(1)
	var cause error
	if x := c.x; x != nil {
		cause = x.cause
		x.held, x.heldOff = nil, 0
	}
	c.proto.ConnectionLost(cause)
}

func (c *conn) stopTimers() {
	x := c.x
	if x == nil {
		return
	}
	if x.idleTimer != 0 {
		c.l.CancelTimer(x.idleTimer)
		x.idleTimer = 0
	}
	if x.deadline != 0 {
		c.l.CancelTimer(x.deadline)
		x.deadline = 0
	}
}

func (c *conn) opErr(op string, err error) error {
	if errors.Is(err, loop.ErrClosed) {
		err = ErrClosed
	}
	return opError(op, c.network(), c.LocalAddr(), c.RemoteAddr(), err)
}

// onLoop runs fn now if called on c's loop, else posts it in call order.
func (c *conn) onLoop(fn func()) error {
	if c.l.InLoop() {
		fn()
		return nil
	}
	if err := c.l.Post(fn); err != nil {
		return ErrClosed
	}
	return nil
}

// Write implements Transport.
func (c *conn) Write(b []byte) error {
	if c.l.InLoop() {
		return c.write(b)
	}
	if o := c.other.Load(); o&offClosed != 0 {
		return ErrClosed
	} else if o&offEOF != 0 {
		return ErrWriteAfterEOF
	}
	cp := append([]byte(nil), b...)
	return c.onLoop(func() { c.writePosted(cp) })
}

// writePosted is a write posted from another goroutine, which has
// returned already: a write that cannot be queued ends the connection,
// with the reason as its cause, rather than vanish from the stream.
func (c *conn) writePosted(b []byte) {
	if err := c.write(b); err != nil && err != ErrClosed {
		c.lose(c.opErr("write", err))
	}
}

// SetReceiveSize caps how much each receive of t takes out of the socket,
// from its next receive on; n <= 0 lifts the cap. A protocol that keeps
// only a little unread input, such as a server holding requests pipelined
// behind one it cannot answer yet, asks for small receives, so that what
// it has not asked for waits in the kernel, where TCP pushes back on the
// peer, rather than in this process. It runs on t's loop; other
// transports than this package's stream connections ignore it.
func SetReceiveSize(t Transport, n int) {
	if c, ok := t.(*conn); ok && c.l.InLoop() {
		c.setRecvSize(min(max(n, 0), maxRecvSize))
	}
}

// WriteBeforePoll is t.Write for code that runs on t's loop but on a
// stack of its own, such as a flow: b is queued at once, with Write's
// errors, and the send starts when the loop is about to poll, on the
// loop's stack and once for everything written in the turn. Off the loop,
// and for transports other than this package's stream connections, it is
// t.Write.
func WriteBeforePoll(t Transport, b []byte) error {
	if c, ok := t.(*conn); ok && c.l.InLoop() {
		return c.writeBeforePoll(b)
	}
	return t.Write(b)
}

// Writev implements Transport.
func (c *conn) Writev(bufs ...[]byte) error {
	if c.l.InLoop() {
		return c.writev(bufs)
	}
	if o := c.other.Load(); o&offClosed != 0 {
		return ErrClosed
	} else if o&offEOF != 0 {
		return ErrWriteAfterEOF
	}
	var cp []byte
	for _, b := range bufs {
		cp = append(cp, b...)
	}
	return c.onLoop(func() { c.writePosted(cp) })
}

// WriteEOF implements Transport.
func (c *conn) WriteEOF() error {
	if c.isClosed() {
		return ErrClosed
	}
	c.other.Or(offEOF)
	return c.onLoop(func() {
		if c.has(stWriteEOF | stClosing | stAborting | stDone) {
			return
		}
		c.state |= stWriteEOF
		c.flush()
	})
}

// Close implements Transport.
func (c *conn) Close() error {
	if c.l.InLoop() {
		return c.close()
	}
	// Asked now, while the socket is surely open: from here until the
	// loop closes it (and asks them itself), other goroutines would find
	// the connection too closed to ask.
	c.addresses()
	if c.other.Or(offClosed)&offClosed != 0 {
		return ErrClosed
	}
	return c.onLoop(func() { c.close() })
}

// Abort implements Transport.
func (c *conn) Abort() { c.onLoop(c.abort) }

// PauseReading implements Transport.
func (c *conn) PauseReading() {
	c.onLoop(func() {
		if c.has(stReadPaused) {
			return
		}
		c.state |= stReadPaused | stCautious
		if c.has(stRecvArmed) {
			c.l.Cancel(c.recvKey)
		}
	})
}

// ResumeReading implements Transport.
func (c *conn) ResumeReading() {
	c.onLoop(func() {
		if !c.has(stReadPaused) {
			return
		}
		c.state &^= stReadPaused
		c.resumeDelivery()
	})
}

// SetWriteBufferLimits implements Transport.
func (c *conn) SetWriteBufferLimits(high, low int) {
	if high <= 0 {
		high = defaultHighWater
	}
	if low < 0 || low > high {
		low = high / 4
	}
	c.onLoop(func() {
		x := c.extra()
		x.high, x.low = high, low
		// A queue already above the new mark pauses the writer now, not
		// at its next write: a protocol may lower the mark to stop
		// producing and write nothing more until told to resume.
		if !c.has(stDone) {
			c.checkHighWater()
		}
	})
}

// SetProtocol implements Transport.
func (c *conn) SetProtocol(p Protocol) { c.onLoop(func() { c.proto = p }) }

// SetWriteQueueLimit implements Transport.
func (c *conn) SetWriteQueueLimit(n int) {
	if n <= 0 {
		n = DefaultWriteQueueLimit
	}
	c.onLoop(func() { c.extra().limit = n })
}

// WriteBufferSize implements Transport.
func (c *conn) WriteBufferSize() int { return c.queuedBytes() }

// SetIdleTimeout implements Transport.
func (c *conn) SetIdleTimeout(d time.Duration) {
	c.onLoop(func() {
		x := c.extra()
		if x.idleTimer != 0 {
			c.l.CancelTimer(x.idleTimer)
			x.idleTimer = 0
		}
		x.idle = d
		if d > 0 && !c.has(stClosing|stAborting|stDone) {
			x.lastActive = c.l.Now()
			x.idleTimer = c.l.CallLater(d, c.checkIdle)
		}
	})
}

// checkIdle fires at the earliest moment the connection could have been
// idle for the whole timeout; activity since then pushes it back, so busy
// connections re-arm their timer once per timeout, not once per message.
func (c *conn) checkIdle() {
	x := c.x
	x.idleTimer = 0
	if x.idle <= 0 || c.has(stClosing|stAborting|stDone) {
		return
	}
	quiet := c.l.Now().Sub(x.lastActive)
	if quiet >= x.idle {
		c.lose(c.opErr("read", ErrIdleTimeout))
		return
	}
	x.idleTimer = c.l.CallLater(x.idle-quiet, c.checkIdle)
}

// SetDeadline implements Transport.
func (c *conn) SetDeadline(t time.Time) {
	c.onLoop(func() {
		x := c.extra()
		if x.deadline != 0 {
			c.l.CancelTimer(x.deadline)
			x.deadline = 0
		}
		if !t.IsZero() && !c.has(stClosing|stAborting|stDone) {
			x.deadline = c.l.CallAt(t, func() {
				x.deadline = 0
				c.lose(c.opErr("read", os.ErrDeadlineExceeded))
			})
		}
	})
}

// Loop implements Transport.
func (c *conn) Loop() *loop.Loop { return c.l }

// connAttrs is what any goroutine may read of a connection and few
// connections have: the user's value and the addresses once asked. It is
// replaced whole, never changed, so one atomic pointer serves both.
type connAttrs struct {
	ctx           any
	local, remote net.Addr
	addrs         bool // local and remote were asked
}

// updateAttrs replaces the attributes with change applied to a copy.
func (c *conn) updateAttrs(change func(*connAttrs)) *connAttrs {
	for {
		old := c.attrs.Load()
		var n connAttrs
		if old != nil {
			n = *old
		}
		change(&n)
		if c.attrs.CompareAndSwap(old, &n) {
			return &n
		}
	}
}

// Context implements Transport.
func (c *conn) Context() any {
	if a := c.attrs.Load(); a != nil {
		return a.ctx
	}
	return nil
}

// SetContext implements Transport.
func (c *conn) SetContext(v any) { c.updateAttrs(func(a *connAttrs) { a.ctx = v }) }

// LocalAddr implements Transport.
func (c *conn) LocalAddr() net.Addr { return c.addresses().local }

// RemoteAddr implements Transport.
func (c *conn) RemoteAddr() net.Addr { return c.addresses().remote }

// addresses asks the kernel for the connection's addresses on first use
// and keeps them, so they stay right in ConnectionLost and after, when
// the descriptor is closed and its number may belong to another socket.
// An idle connection that is never asked holds none. The loop asks before
// it closes the socket, and Close from another goroutine before it marks
// the connection closed; a socket its peer reset still names the peer
// (internal/sock), and on Windows, where it does not, connections ask as
// they are made (keepAddressesFromStart). An answer from another
// goroutine that comes after the loop's is dropped: the loop asked while
// the descriptor was surely this connection's.
func (c *conn) addresses() *connAttrs {
	if a := c.attrs.Load(); a != nil && a.addrs {
		return a
	}
	if c.fdGone() {
		return &connAttrs{}
	}
	local, remote := localAddr(int(c.fd), c.network()), remoteAddr(int(c.fd), c.network())
	return c.updateAttrs(func(a *connAttrs) {
		if !a.addrs {
			a.local, a.remote, a.addrs = local, remote, true
		}
	})
}

// fdGone reports whether the descriptor may already be closed: true once
// the close op is on its way (loop only) or, from other goroutines, once
// Close or Abort has begun.
func (c *conn) fdGone() bool {
	if c.l.InLoop() {
		return c.has(stFDClosing | stDone)
	}
	return c.isClosed()
}
