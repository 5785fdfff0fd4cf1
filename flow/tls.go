package flow

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"time"

	"github.com/cport/cport/loop"
)

// crypto/tls guards a connection's sending side with a sync.Mutex held
// across the underlying Write, and its Read takes the same mutex to send
// an alert or answer a KeyUpdate. Were that Write to park a flow at the
// transport's high watermark, a Read in another flow of the loop needing
// the mutex would block the loop's thread, and the parked writer could
// never be resumed: the loop would deadlock. So flow control is applied
// above crypto/tls, where no lock is held: TLSConn.Write waits for the
// transport to drop below its watermark, then hands crypto/tls at most
// tlsWriteChunk bytes, whose records the connection under it, tlsWire,
// queues without ever parking. A writer overshoots the watermark by at
// most one chunk and its records' overhead, however many flows read.

// tlsWriteChunk bounds the bytes TLSConn.Write gives crypto/tls per wait
// for the watermark: four full records.
const tlsWriteChunk = 64 << 10

// TLSConn is a crypto/tls connection over a Conn, as ListenTLS and
// DialTLS return it: a *tls.Conn (all its methods are TLSConn's) whose
// Write parks at the transport's high watermark without holding
// crypto/tls's locks, so that one flow may read while another writes.
//
// crypto/tls holds a sync.Mutex through the handshake, so a flow that
// calls Write while another flow of the loop is inside the handshake
// blocks the loop's thread for good: a connection that a reader and a
// writer flow will share must finish HandshakeContext in one flow first.
//
// A connection from ListenTLS must finish its handshake within the
// listener's handshake timeout (DefaultHandshakeTimeout unless
// TLSListenConfig says otherwise): a client that connects and sends
// nothing fails the serving flow's first Read, Write or Handshake with a
// timeout rather than hold the connection forever.
type TLSConn struct {
	*tls.Conn
	wire *tlsWire

	// The handshake deadline ListenTLS set is still on the connection;
	// the user set deadlines of their own. Atomic: a reader and a writer
	// goroutine may share the connection, as with any tls.Conn.
	handshakeDeadline atomic.Bool
	ownDeadline       atomic.Bool
}

// handshake completes the handshake, if need be, before a Read or Write,
// then lifts the handshake deadline unless the user set deadlines since.
func (c *TLSConn) handshake(ctx context.Context) error {
	if !c.handshakeDeadline.Load() {
		return nil
	}
	// The client speaks first. Until its hello arrives the flow waits
	// here, a few frames deep and with no buffer, rather than inside
	// crypto/tls's record reader with a grown stack and its input buffer:
	// a client that connects and says nothing costs that much less for
	// the handshake timeout. Whatever ends the wait (data, the deadline,
	// the end of the stream) the handshake then meets and reports.
	c.wire.awaitData(ctx)
	if err := handshake(ctx, c.Conn); err != nil {
		return err
	}
	if c.handshakeDeadline.Swap(false) && !c.ownDeadline.Load() {
		return c.wire.SetDeadline(time.Time{})
	}
	return nil
}

// Read implements net.Conn.
func (c *TLSConn) Read(p []byte) (int, error) {
	if err := c.handshake(noCtx); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// Handshake runs the handshake if it has not run yet.
func (c *TLSConn) Handshake() error {
	if err := c.handshake(noCtx); err != nil {
		return err
	}
	return c.Conn.Handshake()
}

// HandshakeContext is Handshake bounded by ctx as well.
func (c *TLSConn) HandshakeContext(ctx context.Context) error {
	if err := c.handshake(ctx); err != nil {
		return err
	}
	return c.Conn.HandshakeContext(ctx)
}

// SetDeadline implements net.Conn.
func (c *TLSConn) SetDeadline(t time.Time) error {
	c.ownDeadline.Store(true)
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *TLSConn) SetReadDeadline(t time.Time) error {
	c.ownDeadline.Store(true)
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline implements net.Conn.
func (c *TLSConn) SetWriteDeadline(t time.Time) error {
	c.ownDeadline.Store(true)
	return c.Conn.SetWriteDeadline(t)
}

// Write writes p as crypto/tls does, waiting before each chunk of it
// until the transport is below its high watermark (or the write
// deadline passes).
func (c *TLSConn) Write(p []byte) (int, error) {
	if err := c.handshake(noCtx); err != nil {
		return 0, err
	}
	n := 0
	for {
		if _, _, err := c.wire.do(noCtx, "write", nil, (*Conn).writable); err != nil {
			return n, err
		}
		end := min(len(p), n+tlsWriteChunk)
		m, err := c.Conn.Write(p[n:end])
		n += m
		if err != nil || n == len(p) {
			return n, err
		}
	}
}

// tlsWire is the net.Conn crypto/tls runs over: a Conn whose writes queue
// at once, never parking (see the comment at the top).
type tlsWire struct {
	*Conn
	upper *tlsTransport // the TLSTransport on top, told of pause and resume
}

func newTLSWire(c *Conn) *tlsWire { return &tlsWire{Conn: c} }

// Write queues p whatever the transport's watermark: on the loop at once,
// from a goroutine through a post.
func (w *tlsWire) Write(p []byte) (int, error) {
	if w.l.InLoop() {
		if err := w.queueNow(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	_, n, err := w.do(noCtx, "write", p, queueStep)
	return n, err
}

// queueStep is a goroutine's tlsWire.Write on the loop.
func queueStep(c *Conn, w *waiter) bool {
	if err := c.queueNow(w.p[w.n:]); err != nil {
		w.err = err
	} else {
		w.n = len(w.p)
	}
	return true
}

// queueNow hands p to the transport whatever its watermark (loop only).
func (c *Conn) queueNow(p []byte) error {
	if err := c.writeEnded(); err != nil {
		return err
	}
	return c.opErr("write", c.t.Write(p))
}

// PauseWriting implements transport.Protocol, passing it up to a
// TLSTransport's protocol.
func (w *tlsWire) PauseWriting() {
	w.Conn.PauseWriting()
	if w.upper != nil {
		w.upper.pauseWriting()
	}
}

// ResumeWriting implements transport.Protocol.
func (w *tlsWire) ResumeWriting() {
	w.Conn.ResumeWriting()
	if w.upper != nil {
		w.upper.resumeWriting()
	}
}

// ConnectionLost implements transport.Protocol.
func (w *tlsWire) ConnectionLost(err error) {
	w.Conn.ConnectionLost(err)
	if w.upper != nil {
		w.upper.lost.Set()
	}
}

// tlsListener is ListenTLS's listener: Accept wraps each Conn in a server
// tls.Conn without handshaking; the first Read, Write or Handshake of the
// serving flow does that.
type tlsListener struct {
	*Listener
	cfg              *tls.Config
	handshakeTimeout time.Duration
}

// TLSListenConfig holds ListenTLS's options; the zero value is usable.
type TLSListenConfig struct {
	// HandshakeTimeout bounds each connection's handshake, from its
	// accept; 0 is DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// ListenTLS listens as Listen does and returns a net.Listener whose Accept
// yields a *TLSConn over a *Conn. The handshake runs in the flow that
// serves the connection, at its first Read, Write or HandshakeContext, so
// a slow client never holds up Accept, and it must end within
// DefaultHandshakeTimeout of the accept; see TLSConn before sharing the
// connection between flows.
func ListenTLS(ctx context.Context, g *loop.Group, network, address string, cfg *tls.Config) (net.Listener, error) {
	return TLSListenConfig{}.Listen(ctx, g, network, address, cfg)
}

// Listen is ListenTLS with lc's options.
func (lc TLSListenConfig) Listen(ctx context.Context, g *loop.Group, network, address string, cfg *tls.Config) (net.Listener, error) {
	ln, err := Listen(ctx, g, network, address)
	if err != nil {
		return nil, err
	}
	d := lc.HandshakeTimeout
	if d <= 0 {
		d = DefaultHandshakeTimeout
	}
	return &tlsListener{Listener: ln, cfg: cfg, handshakeTimeout: d}, nil
}

// Accept implements net.Listener.
func (ln *tlsListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return ln.wrap(c.(*Conn)), nil
}

// AcceptContext is Accept that also ends when ctx does.
func (ln *tlsListener) AcceptContext(ctx context.Context) (net.Conn, error) {
	c, err := ln.Listener.AcceptContext(ctx)
	if err != nil {
		return nil, err
	}
	return ln.wrap(c.(*Conn)), nil
}

func (ln *tlsListener) wrap(c *Conn) *TLSConn {
	w := newTLSWire(c)
	c.SetDeadline(time.Now().Add(ln.handshakeTimeout))
	tc := &TLSConn{Conn: tls.Server(w, ln.cfg), wire: w}
	tc.handshakeDeadline.Store(true)
	return tc
}

// DialTLS dials as Dial does and completes a TLS handshake, both bounded
// by ctx. A cfg without ServerName gets the host of address.
func DialTLS(ctx context.Context, l *loop.Loop, network, address string, cfg *tls.Config) (*TLSConn, error) {
	c, err := Dial(ctx, l, network, address)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			host = address
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	w := newTLSWire(c)
	tc := tls.Client(w, cfg)
	if err := handshake(ctx, tc); err != nil {
		c.Close()
		return nil, err
	}
	return &TLSConn{Conn: tc, wire: w}, nil
}

// handshake runs tc's handshake bounded by ctx. Without a context to
// watch it is Handshake; tls.Conn.HandshakeContext starts a goroutine
// per handshake to watch one.
func handshake(ctx context.Context, tc *tls.Conn) error {
	if ctx == nil || ctx.Done() == nil {
		return tc.Handshake()
	}
	return tc.HandshakeContext(ctx)
}

// LoopOf returns the loop a connection from this package lives on, a
// *Conn or a *TLSConn: serve it from a flow there. It returns nil for
// other connections.
func LoopOf(c net.Conn) *loop.Loop {
	switch c := c.(type) {
	case *Conn:
		return c.l
	case *TLSConn:
		return c.wire.l
	}
	return nil
}
