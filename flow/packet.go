package flow

import (
	"context"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// packetBacklog bounds the datagrams kept for ReadFrom; past it new ones
// are dropped, as a full socket buffer drops them.
const packetBacklog = 256

// PacketConn is a UDP socket for sequential code: it implements
// net.PacketConn. Like Conn, it parks flows of its loop and blocks
// goroutines.
type PacketConn struct {
	l     *loop.Loop
	t     *transport.PacketTransport
	laddr net.Addr

	// Loop only.
	queue   []datagram
	readers waitq
	closed  bool
	lost    bool
	cause   error
	rd      deadline
}

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// ListenPacket binds a UDP socket ("udp", "udp4", "udp6") on l. From a
// flow (ctx its context) it parks while a pool worker sets it up.
func ListenPacket(ctx context.Context, l *loop.Loop, network, address string) (*PacketConn, error) {
	pc := &PacketConn{l: l}
	pc.rd.fire = pc.onReadDeadline
	listen := func(context.Context) error {
		var err error
		pc.t, err = transport.ListenPacket(l, network, address, pc)
		return err
	}
	var err error
	if f := caller(ctx, l); f != nil {
		err = defaultPool.run(f, ctx, listen, func() {
			if pc.t != nil {
				pc.t.Close()
			}
		})
	} else {
		err = listen(ctx)
	}
	if err != nil {
		return nil, err
	}
	pc.laddr = pc.t.LocalAddr()
	return pc, nil
}

// ConnectionMade implements transport.DatagramProtocol.
func (pc *PacketConn) ConnectionMade(*transport.PacketTransport) {}

// DatagramReceived implements transport.DatagramProtocol.
func (pc *PacketConn) DatagramReceived(data []byte, from netip.AddrPort) {
	if w := pc.readers.head; w != nil {
		w.n = copy(w.p, data)
		w.p = nil
		w.from = from
		w.wake(nil)
		return
	}
	if len(pc.queue) < packetBacklog {
		pc.queue = append(pc.queue, datagram{b: append([]byte(nil), data...), from: from})
	}
}

// ErrorReceived implements transport.DatagramProtocol; like a Go
// net.UDPConn, an ICMP error from an earlier send is not reported to
// readers of an unconnected socket.
func (pc *PacketConn) ErrorReceived(error) {}

// ConnectionLost implements transport.DatagramProtocol.
func (pc *PacketConn) ConnectionLost(err error) {
	pc.lost, pc.cause = true, err
	pc.readers.wakeAll(nil)
}

func (pc *PacketConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: pc.laddr, Err: err}
}

func (pc *PacketConn) readStep(w *waiter) bool {
	switch {
	case w.err != nil || w.p == nil:
		return true
	case pc.closed || pc.lost:
		w.err = pc.opErr("read", net.ErrClosed)
	case pc.rd.expired():
		w.err = pc.readTimeout()
	case len(pc.queue) > 0:
		d := pc.queue[0]
		pc.queue[0] = datagram{}
		pc.queue = pc.queue[1:]
		if len(pc.queue) == 0 {
			pc.queue = nil
		}
		w.n = copy(w.p, d.b)
		w.p = nil
		w.from = d.from
	default:
		pc.readers.push(w)
		pc.rd.arm(pc.l)
		return false
	}
	return true
}

func (pc *PacketConn) onReadDeadline() { pc.rd.fired(pc.l, &pc.readers, pc.readTimeout) }

func (pc *PacketConn) readTimeout() error { return pc.opErr("read", os.ErrDeadlineExceeded) }

// ReadFrom implements net.PacketConn: one datagram, truncated to p.
func (pc *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	return pc.readFrom(noCtx, p)
}

// ReadFromContext is ReadFrom that also ends when ctx does.
func (pc *PacketConn) ReadFromContext(ctx context.Context, p []byte) (int, net.Addr, error) {
	return pc.readFrom(ctx, p)
}

func (pc *PacketConn) readFrom(ctx context.Context, p []byte) (int, net.Addr, error) {
	if len(p) == 0 {
		p = make([]byte, 1) // a zero-length read still takes a datagram
	}
	n, from, err := pc.read(ctx, p)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

func (pc *PacketConn) read(ctx context.Context, p []byte) (int, netip.AddrPort, error) {
	if f := caller(ctx, pc.l); f != nil && f.l == pc.l {
		w := &f.w
		if err := f.check(ctx, true); err != nil {
			return 0, netip.AddrPort{}, err
		}
		w.reset()
		w.p = p
		for !pc.readStep(w) {
			if err := f.park(ctx, nil, cancellable); err != nil {
				w.err = err
			}
		}
		return w.n, w.from, w.err
	}
	if pc.l.InLoop() {
		return 0, netip.AddrPort{}, ErrNotInFlow
	}
	w := newGoWaiter()
	w.p = p
	if err := awaitOn(pc.l, ctx, w, pc.readStep, abortGo); err != nil {
		if err == loop.ErrClosed {
			err = pc.opErr("read", net.ErrClosed)
		}
		return 0, netip.AddrPort{}, err
	}
	return w.n, w.from, w.err
}

// WriteTo implements net.PacketConn. The datagram is queued on the loop
// and sent in order; a full send queue fails with transport.ErrQueueFull
// rather than wait, since datagrams may be lost anyway.
func (pc *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, pc.opErr("write", &net.AddrError{Err: "not a UDP address", Addr: addr.String()})
	}
	ap := ua.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if err := pc.t.SendTo(p, ap); err != nil {
		return 0, pc.opErr("write", err)
	}
	return len(p), nil
}

// Close implements net.PacketConn.
func (pc *PacketConn) Close() error {
	err := pc.t.Close()
	run := func() {
		pc.closed = true
		pc.readers.wakeAll(nil)
		pc.rd.stop(pc.l)
	}
	if pc.l.InLoop() {
		run()
	} else {
		_ = pc.l.Post(run)
	}
	if err != nil {
		return pc.opErr("close", err)
	}
	return nil
}

// LocalAddr implements net.PacketConn.
func (pc *PacketConn) LocalAddr() net.Addr { return pc.laddr }

// SetDeadline implements net.PacketConn; writes never wait, so only reads
// have a deadline.
func (pc *PacketConn) SetDeadline(t time.Time) error { return pc.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (pc *PacketConn) SetReadDeadline(t time.Time) error {
	set := func() {
		pc.rd.set(pc.l, t, &pc.readers)
	}
	if pc.l.InLoop() {
		set()
		return nil
	}
	return pc.l.Post(set)
}

// SetWriteDeadline implements net.PacketConn; writes never wait.
func (pc *PacketConn) SetWriteDeadline(time.Time) error { return nil }
