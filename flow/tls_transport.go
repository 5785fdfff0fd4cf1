package flow

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// DefaultHandshakeTimeout bounds a TLSServer's handshakes unless it says
// otherwise, so a client that stalls mid-handshake does not hold a flow.
const DefaultHandshakeTimeout = 10 * time.Second

// tlsReadBuffer is each TLS connection's plaintext buffer: one TLS record.
const tlsReadBuffer = 16 << 10

// TLSServer serves a transport Protocol over TLS: callback-style code
// gets TLS unchanged. Each connection has a flow, on its loop, that does
// the handshake and then reads, handing plaintext to the protocol's
// DataReceived; the protocol's Transport encrypts its writes on the spot.
type TLSServer struct {
	// Config is the server's TLS configuration (certificates at least).
	Config *tls.Config
	// Factory makes one Protocol per connection, after its handshake.
	Factory func() transport.Protocol
	// HandshakeTimeout bounds each handshake; 0 is DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// OnHandshakeError, if set, hears of every failed handshake, on the
	// connection's loop; the connection is closed after it returns.
	OnHandshakeError func(remote net.Addr, err error)
	// ListenConfig is how the listener spreads connections over loops.
	ListenConfig transport.ListenConfig
}

// ServeProtocolTLS listens on address over g's loops and serves a
// protocol from factory over TLS on each connection.
func ServeProtocolTLS(g *loop.Group, network, address string, cfg *tls.Config, factory func() transport.Protocol) (*transport.Listener, error) {
	s := &TLSServer{Config: cfg, Factory: factory}
	return s.Listen(g, network, address)
}

// Listen starts serving on address over g's loops.
func (s *TLSServer) Listen(g *loop.Group, network, address string) (*transport.Listener, error) {
	if s.Config == nil || s.Factory == nil {
		return nil, errors.New("flow: TLSServer needs a Config and a Factory")
	}
	netw := streamNet(network)
	return s.ListenConfig.Listen(g, network, address, func() transport.Protocol {
		w := newTLSWire(newConn(netw))
		w.made = func(c *Conn) { Go(c.l, func(f *Flow) { s.serve(f, w) }) }
		return w
	})
}

// ListenFile serves on an inherited listening socket (systemd's socket
// activation), as transport.ListenConfig.ListenFile does; f stays open,
// the caller's.
func (s *TLSServer) ListenFile(g *loop.Group, f *os.File) (*transport.Listener, error) {
	if s.Config == nil || s.Factory == nil {
		return nil, errors.New("flow: TLSServer needs a Config and a Factory")
	}
	return s.ListenConfig.ListenFile(g, f, func() transport.Protocol {
		w := newTLSWire(newConn(""))
		w.made = func(c *Conn) {
			c.net = streamNet(c.LocalAddr().Network()) // the socket's, known now
			Go(c.l, func(f *Flow) { s.serve(f, w) })
		}
		return w
	})
}

// serve is a connection's flow: handshake, then the read side.
func (s *TLSServer) serve(f *Flow, w *tlsWire) {
	d := s.HandshakeTimeout
	if d <= 0 {
		d = DefaultHandshakeTimeout
	}
	w.SetDeadline(time.Now().Add(d))
	// As TLSConn's handshake does: the client speaks first, and until it
	// does the flow waits here, shallow and with no tls.Conn yet, rather
	// than inside crypto/tls's record reader.
	w.awaitData(noCtx)
	tc := tls.Server(w, s.Config)
	if err := tc.Handshake(); err != nil {
		if s.OnHandshakeError != nil {
			s.OnHandshakeError(w.RemoteAddr(), err)
		}
		w.Close() // after the alert crypto/tls queued, if any
		return
	}
	w.SetDeadline(time.Time{})
	t := &tlsTransport{w: w, tc: tc, l: w.l}
	w.upper = t
	t.run(f, s.Factory())
}

// tlsTransport is a transport.Transport that encrypts through a tls.Conn
// over a Conn (a tlsWire, so a Write never parks).
type tlsTransport struct {
	w  *tlsWire
	tc *tls.Conn
	l  *loop.Loop

	// Loop only from here on.
	proto      transport.Protocol
	made       bool
	wpaused    bool
	readPaused bool
	backlogged bool // reading paused while writing is, unless the protocol opted out
	closing    bool // Close or Abort was called
	eofSent    bool
	resume     Event // set when reading may go on, or should stop
	lost       Event // set when the connection under is lost

	ctx atomic.Pointer[any]
}

// run delivers ConnectionMade, then plaintext as it arrives, then
// ConnectionLost once the connection under is gone.
func (t *tlsTransport) run(f *Flow, p transport.Protocol) {
	t.proto, t.made = p, true
	ctx := f.Context()
	p.ConnectionMade(t)
	// From here on t.proto, not p: SetProtocol may hand the connection on.
	buf := make([]byte, tlsReadBuffer)
	var cause error
	for !t.closing {
		t.waitReadable(f)
		n, err := t.tc.Read(buf)
		t.waitReadable(f) // PauseReading while the Read was parked
		if n > 0 && !t.closing {
			t.proto.DataReceived(buf[:n])
		}
		if err == nil || t.closing {
			continue
		}
		if errors.Is(err, io.EOF) {
			if !t.proto.EOFReceived() {
				t.Close()
			}
		} else {
			cause = err
			t.w.t.Abort()
		}
		break
	}
	if err := t.lost.Wait(ctx); err != nil && cause == nil {
		cause = err // the loop is closing
	}
	if t.w.cause != nil && cause == nil && !t.closing {
		cause = t.w.cause
	}
	t.proto.ConnectionLost(cause)
}

// waitReadable parks while reading is paused and the connection lives.
func (t *tlsTransport) waitReadable(f *Flow) {
	for (t.readPaused || t.backlogged) && !t.closing && !t.lost.IsSet() {
		t.resume.Clear()
		if t.resume.Wait(f.Context()) != nil {
			return
		}
	}
}

// onLoop runs fn at once on the loop, or posts it from elsewhere.
func (t *tlsTransport) onLoop(fn func()) error {
	if t.l.InLoop() {
		fn()
		return nil
	}
	return t.l.Post(fn)
}

func (t *tlsTransport) pauseWriting() {
	if t.made && !t.wpaused {
		t.wpaused = true
		t.proto.PauseWriting()
		// As a plain transport does: a peer that sends without reading
		// is slowed by TCP, not buffered here.
		o, ok := t.proto.(transport.ReadsWhileWritesPaused)
		t.backlogged = !ok || !o.ReadsWhileWritesPaused()
	}
}

func (t *tlsTransport) resumeWriting() {
	if t.made && t.wpaused {
		t.wpaused = false
		t.proto.ResumeWriting()
		if t.backlogged {
			t.backlogged = false
			t.resume.Set()
		}
	}
}

// Write implements transport.Transport: b is encrypted and queued at once.
func (t *tlsTransport) Write(b []byte) error {
	if !t.l.InLoop() {
		c := bytes.Clone(b)
		return t.l.Post(func() { t.Write(c) })
	}
	switch {
	case t.closing:
		return transport.ErrClosed
	case t.eofSent:
		return transport.ErrWriteAfterEOF
	}
	_, err := t.tc.Write(b)
	return err
}

// Writev implements transport.Transport.
func (t *tlsTransport) Writev(bufs ...[]byte) error {
	if !t.l.InLoop() {
		return t.Write(bytes.Join(bufs, nil))
	}
	for _, b := range bufs {
		if err := t.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// WriteEOF implements transport.Transport: a close_notify alert, then the
// TCP half-close. TLS 1.3 peers may go on sending; TLS 1.2 ones may not.
func (t *tlsTransport) WriteEOF() error {
	var err error
	perr := t.onLoop(func() {
		if t.closing || t.eofSent {
			err = transport.ErrClosed
			return
		}
		t.eofSent = true
		if err = t.tc.CloseWrite(); err == nil {
			err = t.w.t.WriteEOF()
		}
	})
	if perr != nil {
		return perr
	}
	return err
}

// Close implements transport.Transport: close_notify, flush, close.
func (t *tlsTransport) Close() error {
	return t.onLoop(func() {
		if t.closing {
			return
		}
		t.closing = true
		t.tc.Close()
		t.resume.Set()
	})
}

// Abort implements transport.Transport.
func (t *tlsTransport) Abort() {
	_ = t.onLoop(func() {
		if t.closing {
			return
		}
		t.closing = true
		t.w.t.Abort()
		t.resume.Set()
	})
}

// PauseReading implements transport.Transport.
func (t *tlsTransport) PauseReading() { _ = t.onLoop(func() { t.readPaused = true }) }

// ResumeReading implements transport.Transport.
func (t *tlsTransport) ResumeReading() {
	_ = t.onLoop(func() {
		t.readPaused = false
		t.resume.Set()
	})
}

// SetWriteBufferLimits implements transport.Transport; the watermarks
// count encrypted bytes, what the socket has yet to take.
func (t *tlsTransport) SetWriteBufferLimits(high, low int) { t.w.t.SetWriteBufferLimits(high, low) }

// SetProtocol implements transport.Transport.
func (t *tlsTransport) SetProtocol(p transport.Protocol) { _ = t.onLoop(func() { t.proto = p }) }

// SetWriteQueueLimit implements transport.Transport.
func (t *tlsTransport) SetWriteQueueLimit(n int) { t.w.t.SetWriteQueueLimit(n) }

// WriteBufferSize implements transport.Transport.
func (t *tlsTransport) WriteBufferSize() int { return t.w.t.WriteBufferSize() }

// SetIdleTimeout implements transport.Transport.
func (t *tlsTransport) SetIdleTimeout(d time.Duration) { t.w.t.SetIdleTimeout(d) }

// SetDeadline implements transport.Transport.
func (t *tlsTransport) SetDeadline(dl time.Time) { t.w.t.SetDeadline(dl) }

// LocalAddr implements transport.Transport.
func (t *tlsTransport) LocalAddr() net.Addr { return t.w.LocalAddr() }

// RemoteAddr implements transport.Transport.
func (t *tlsTransport) RemoteAddr() net.Addr { return t.w.RemoteAddr() }

// Loop implements transport.Transport.
func (t *tlsTransport) Loop() *loop.Loop { return t.l }

// Context implements transport.Transport.
func (t *tlsTransport) Context() any {
	if p := t.ctx.Load(); p != nil {
		return *p
	}
	return nil
}

// SetContext implements transport.Transport.
func (t *tlsTransport) SetContext(v any) { t.ctx.Store(&v) }

// ConnectionState is the TLS state (version, cipher suite, peer
// certificates, ALPN): a protocol reaches it by asserting its Transport
// to interface{ ConnectionState() tls.ConnectionState }.
func (t *tlsTransport) ConnectionState() tls.ConnectionState { return t.tc.ConnectionState() }
