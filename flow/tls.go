package flow

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"

	"github.com/cport/cport/loop"
)

// crypto/tls guards a connection's sending side with a sync.Mutex, held
// across the underlying Write. On a flow that Write may park (the
// transport is past its high watermark), and if another flow of the loop
// then needs the same mutex — a Read answering a KeyUpdate, or sending an
// alert for a bad record — it blocks the loop's thread, and the parked
// writer can never be resumed: the whole loop deadlocks. So the
// connection under a tls.Conn, tlsWire, parks a Write for flow control
// only while no Read is in progress on the connection, and a Read that
// starts releases writers already parked: their bytes are queued past the
// watermark instead. One flow that reads and writes in turn keeps full
// flow control; a reader and a writer at once trade it for safety.

// tlsWire is the net.Conn crypto/tls runs over: a Conn whose writes never
// park while a read may need the sending side.
type tlsWire struct {
	*Conn
	direct  bool         // never park: writes come from loop callbacks (TLSTransport)
	reading atomic.Int32 // Reads in progress
	parked  atomic.Int32 // Writes parked at the watermark
	step    func(*Conn, *waiter) bool
	upper   *tlsTransport // the TLSTransport on top, told of pause and resume
}

func newTLSWire(c *Conn, direct bool) *tlsWire {
	w := &tlsWire{Conn: c, direct: direct}
	w.step = w.writeStep
	return w
}

// Read is Conn.Read, announced so that writers stop parking.
func (w *tlsWire) Read(p []byte) (int, error) {
	w.reading.Add(1)
	defer w.reading.Add(-1)
	if w.parked.Swap(0) > 0 {
		_ = w.onLoop(func() { w.writers.wakeAll(nil) })
	}
	return w.Conn.Read(p)
}

// Write queues p: at once in direct mode, else as Conn.Write does.
func (w *tlsWire) Write(p []byte) (int, error) {
	if w.direct && w.l.InLoop() {
		w.queue(p)
		return len(p), nil
	}
	_, n, err := w.do(noCtx, p, w.step)
	return n, err
}

// writeStep is Conn.writeStep that queues past the watermark rather than
// park while a Read is in progress (see the comment at the top).
func (w *tlsWire) writeStep(c *Conn, wt *waiter) bool {
	if w.reading.Load() == 0 && !w.direct {
		done := c.writeStep(wt)
		if !done {
			w.parked.Add(1)
		}
		return done
	}
	if wt.q != nil {
		wt.q.remove(wt)
	}
	if wt.err == nil && wt.n < len(wt.p) {
		if err := c.queueNow(wt.p[wt.n:]); err != nil {
			wt.err = err
		} else {
			wt.n = len(wt.p)
		}
	}
	return true
}

// queue is writeStep's unconditional path for direct callers on the loop.
func (w *tlsWire) queue(p []byte) error { return w.Conn.queueNow(p) }

// queueNow hands p to the transport whatever its watermark (loop only).
func (c *Conn) queueNow(p []byte) error {
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
	w.parked.Store(0) // every parked writer is woken below
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
	cfg *tls.Config
}

// ListenTLS listens as Listen does and returns a net.Listener whose Accept
// yields *tls.Conn over *Conn. The handshake runs in the flow that serves
// the connection, at its first Read, Write or HandshakeContext, so a slow
// client never holds up Accept.
//
// crypto/tls holds a sync.Mutex through the handshake, so a flow that
// calls Write while another flow of the loop is inside the handshake
// blocks the loop's thread for good: a connection that a reader and a
// writer flow will share must finish HandshakeContext in one flow first.
func ListenTLS(ctx context.Context, g *loop.Group, network, address string, cfg *tls.Config) (net.Listener, error) {
	ln, err := Listen(ctx, g, network, address)
	if err != nil {
		return nil, err
	}
	return &tlsListener{Listener: ln, cfg: cfg}, nil
}

// Accept implements net.Listener.
func (ln *tlsListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(ln.wrap(c.(*Conn)), ln.cfg), nil
}

// AcceptContext is Accept that also ends when ctx does.
func (ln *tlsListener) AcceptContext(ctx context.Context) (net.Conn, error) {
	c, err := ln.Listener.AcceptContext(ctx)
	if err != nil {
		return nil, err
	}
	return tls.Server(ln.wrap(c.(*Conn)), ln.cfg), nil
}

func (ln *tlsListener) wrap(c *Conn) net.Conn { return newTLSWire(c, false) }

// DialTLS dials as Dial does and completes a TLS handshake, both bounded
// by ctx. A cfg without ServerName gets the host of address.
func DialTLS(ctx context.Context, l *loop.Loop, network, address string, cfg *tls.Config) (*tls.Conn, error) {
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
	tc := tls.Client(newTLSWire(c, false), cfg)
	if err := handshake(ctx, tc); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
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

// LoopOf returns the loop a connection from this package lives on, also
// under a *tls.Conn from ListenTLS or DialTLS: serve it from a flow
// there. It returns nil for other connections.
func LoopOf(c net.Conn) *loop.Loop {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	switch c := c.(type) {
	case *Conn:
		return c.l
	case *tlsWire:
		return c.l
	}
	return nil
}
