package transport

import (
	"net"
	"net/netip"
	"time"

	"github.com/cport/cport/loop"
)

// Protocol receives a stream connection's events. The loop calls its
// methods, one at a time, on the loop's goroutine; a protocol needs no locks
// for state only its callbacks touch.
type Protocol interface {
	// ConnectionMade is called once, first, with the connection's transport.
	ConnectionMade(t Transport)
	// DataReceived delivers bytes in arrival order. data is valid only
	// during the call: it is a buffer the loop reuses at once.
	DataReceived(data []byte)
	// EOFReceived says the peer will send no more. Returning true keeps
	// the connection open for writing (a half-close); false closes it.
	EOFReceived() (keepOpen bool)
	// ConnectionLost is called once, last: with nil after a Close or an
	// end of stream, with the cause otherwise.
	ConnectionLost(err error)
	// PauseWriting is called when the write buffer grows past the high
	// watermark: stop writing until ResumeWriting.
	PauseWriting()
	// ResumeWriting is called when the write buffer drains to the low
	// watermark after a PauseWriting.
	ResumeWriting()
}

// ReadsWhileWritesPaused is implemented by a protocol that paces its
// reading itself. By default a stream transport whose write queue passes
// the high watermark stops reading too (after PauseWriting) and reads
// again at the low watermark (after ResumeWriting), so a peer that sends
// without reading is slowed by TCP, not buffered in memory. A protocol
// whose method returns true keeps receiving data while its writes are
// paused, and must bound what it queues on its own.
type ReadsWhileWritesPaused interface {
	ReadsWhileWritesPaused() bool
}

// BaseProtocol implements every Protocol method as a no-op; embed it and
// override what matters.
type BaseProtocol struct{}

func (BaseProtocol) ConnectionMade(Transport) {}
func (BaseProtocol) DataReceived([]byte)      {}
func (BaseProtocol) EOFReceived() bool        { return false }
func (BaseProtocol) ConnectionLost(error)     {}
func (BaseProtocol) PauseWriting()            {}
func (BaseProtocol) ResumeWriting()           {}

// Transport is one stream connection as its protocol sees it. Every method
// is safe from any goroutine: on the loop it acts at once, elsewhere it is
// posted to the loop in call order. Data passed to Write is copied before
// Write returns.
type Transport interface {
	// Write queues b to be sent (on epoll, a connection with nothing
	// queued first sends what the socket takes at once, and queues the
	// rest). It never blocks and never drops data; past
	// the high watermark the protocol's PauseWriting is called (and
	// reading pauses; see ReadsWhileWritesPaused). A write when the queue
	// already holds the write-queue limit fails with ErrWriteQueueFull and
	// queues nothing; called off the loop, where the error cannot be
	// returned, such a failure ends the connection with it as the cause.
	Write(b []byte) error
	// Writev queues several buffers as one write.
	Writev(bufs ...[]byte) error
	// WriteEOF sends end of stream after the queued data (a half-close);
	// reading goes on.
	WriteEOF() error
	// Close flushes queued data, then closes the connection.
	Close() error
	// Abort closes at once, discarding queued data. A TCP peer sees a
	// reset, never a clean end of stream, whenever a connection ends this
	// way (Abort, a failed write, a timeout): it cannot mistake a
	// truncated stream for a whole one.
	Abort()
	// PauseReading stops DataReceived calls until ResumeReading.
	PauseReading()
	// ResumeReading resumes DataReceived calls.
	ResumeReading()
	// SetWriteBufferLimits sets the watermarks, in bytes, at which the
	// protocol is told to pause and to resume writing.
	SetWriteBufferLimits(high, low int)
	// SetWriteQueueLimit sets how many queued bytes make further writes
	// fail with ErrWriteQueueFull; zero or less restores
	// DefaultWriteQueueLimit. The limit is never below twice the high
	// watermark.
	SetWriteQueueLimit(n int)
	// WriteBufferSize is how many bytes are queued and not yet sent: what
	// the socket's own buffer holds is not counted.
	WriteBufferSize() int
	// SetIdleTimeout closes the connection with ErrIdleTimeout after d
	// without a byte received or sent; zero turns it off.
	SetIdleTimeout(d time.Duration)
	// SetDeadline aborts the connection with os.ErrDeadlineExceeded at t;
	// the zero time turns it off.
	SetDeadline(t time.Time)
	// LocalAddr and RemoteAddr are the connection's addresses.
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// Loop is the loop the connection belongs to.
	Loop() *loop.Loop
	// SetProtocol hands the connection to p: every later callback goes to
	// p, which is not sent ConnectionMade (it is made already). A server
	// uses it to hand a connection over after an Upgrade; the pauses the
	// old protocol asked for stay until p lifts them.
	SetProtocol(p Protocol)
	// Context and SetContext hold one value for the user, safe from any
	// goroutine.
	Context() any
	SetContext(v any)
}

// ContextOf returns t's user value (SetContext) as a T, and whether it
// holds one of that type: the typed way to read it.
func ContextOf[T any](t Transport) (T, bool) {
	v, ok := t.Context().(T)
	return v, ok
}

// DatagramProtocol receives a datagram socket's events, on its loop.
type DatagramProtocol interface {
	// ConnectionMade is called once, first.
	ConnectionMade(t *PacketTransport)
	// DatagramReceived delivers one datagram; data is valid only during
	// the call.
	DatagramReceived(data []byte, from netip.AddrPort)
	// ErrorReceived reports an error that does not close the socket, such
	// as ECONNREFUSED from an earlier send on a connected socket.
	ErrorReceived(err error)
	// ConnectionLost is called once, last.
	ConnectionLost(err error)
}
