package transport

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// maxDatagram is the largest UDP payload (65,535 minus the IP and UDP
// headers); a receive buffer this big never truncates.
const maxDatagram = 65535

// defaultDatagramQueue bounds the bytes of datagrams waiting to be sent.
// Datagrams may be dropped by the network anyway, so past the bound SendTo
// refuses (ErrQueueFull) rather than grow without limit.
const defaultDatagramQueue = 1 << 20

// ErrQueueFull: a datagram did not fit in the send queue.
var ErrQueueFull = errors.New("transport: datagram send queue full")

// PacketTransport is a UDP socket on a loop. Its methods are safe from any
// goroutine.
type PacketTransport struct {
	l     *loop.Loop
	fd    int
	proto DatagramProtocol

	recvKey, sendKey port.Key
	rbuf             []byte
	rmsg, smsg       port.Msg
	queue            []datagram
	queued           int
	limit            int
	sending          bool
	recving          bool
	closing          bool
	done             bool
	cause            error
	closed           atomic.Bool
}

type datagram struct {
	b  []byte
	to netip.AddrPort
}

// ListenPacket binds a UDP socket ("udp", "udp4", "udp6") to address on
// loop l and starts proto on it. Call it off the loop: it waits for the
// loop to register the socket.
func ListenPacket(l *loop.Loop, network, address string, proto DatagramProtocol) (*PacketTransport, error) {
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if l.InLoop() {
		return nil, errors.New("transport: ListenPacket called on its loop would wait for itself")
	}
	addr, err := resolveListen(network, address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	fd, err := sock.Socket(addr, syscall.SOCK_DGRAM)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if err := sock.Bind(fd, addr); err != nil {
		sock.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	t := &PacketTransport{l: l, fd: fd, proto: proto, rbuf: make([]byte, maxDatagram), limit: defaultDatagramQueue}
	errc := make(chan error, 1)
	if err := l.Post(func() { errc <- t.start() }); err != nil {
		sock.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: network, Err: ErrClosed}
	}
	if err := <-errc; err != nil {
		sock.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	return t, nil
}

func (t *PacketTransport) start() error {
	var err error
	if t.recvKey, err = t.l.Register(t.onRecv); err != nil {
		return err
	}
	if t.sendKey, err = t.l.Register(t.onSend); err != nil {
		t.l.Release(t.recvKey)
		return err
	}
	t.proto.ConnectionMade(t)
	t.armRecv()
	return nil
}

func (t *PacketTransport) armRecv() {
	if t.closing || t.recving {
		return
	}
	t.rmsg.Buffers = [][]byte{t.rbuf}
	if err := t.l.Submit(t.recvKey, port.RecvMsg(t.fd, &t.rmsg)); err != nil {
		t.lose(err)
		return
	}
	t.recving = true
}

func (t *PacketTransport) onRecv(c port.Completion) {
	t.recving = false
	if t.closing {
		t.finishIfIdle()
		return
	}
	if err := c.Err(); err != nil {
		switch err {
		case syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EMSGSIZE,
			syscall.ECONNRESET:
			// An ICMP error from an earlier send: the socket is fine.
			// Windows reports port unreachable as WSAECONNRESET (the
			// port's ECONNRESET) even on an unconnected socket.
			t.proto.ErrorReceived(os.NewSyscallError("recvmsg", err))
		default:
			t.lose(os.NewSyscallError("recvmsg", err))
			return
		}
	} else {
		t.proto.DatagramReceived(t.rbuf[:c.Res], t.rmsg.Addr)
	}
	t.armRecv()
}

// SendTo queues b for to; the zero address sends on a connected socket.
func (t *PacketTransport) SendTo(b []byte, to netip.AddrPort) error {
	if t.closed.Load() {
		return ErrClosed
	}
	cp := append([]byte(nil), b...)
	if t.l.InLoop() {
		return t.enqueue(cp, to)
	}
	if err := t.l.Post(func() {
		if err := t.enqueue(cp, to); err != nil {
			t.proto.ErrorReceived(err)
		}
	}); err != nil {
		return ErrClosed
	}
	return nil
}

func (t *PacketTransport) enqueue(b []byte, to netip.AddrPort) error {
	if t.closing {
		return ErrClosed
	}
	if t.queued+len(b) > t.limit {
		return ErrQueueFull
	}
	t.queue = append(t.queue, datagram{b: b, to: to})
	t.queued += len(b)
	t.flush()
	return nil
}

func (t *PacketTransport) flush() {
	if t.sending || len(t.queue) == 0 {
		return
	}
	d := t.queue[0]
	t.smsg.Buffers = append(t.smsg.Buffers[:0], d.b)
	t.smsg.Addr = d.to
	if err := t.l.Submit(t.sendKey, port.SendMsg(t.fd, &t.smsg)); err != nil {
		t.lose(err)
		return
	}
	t.sending = true
}

func (t *PacketTransport) onSend(c port.Completion) {
	t.sending = false
	if len(t.queue) > 0 {
		t.queued -= len(t.queue[0].b)
		t.queue[0] = datagram{}
		t.queue = t.queue[1:]
	}
	if t.closing {
		t.finishIfIdle()
		return
	}
	if err := c.Err(); err != nil {
		t.proto.ErrorReceived(os.NewSyscallError("sendmsg", err))
	}
	t.flush()
}

// Close closes the socket; queued datagrams are dropped.
func (t *PacketTransport) Close() error {
	if t.closed.Swap(true) {
		return ErrClosed
	}
	if t.l.InLoop() {
		t.close(nil)
		return nil
	}
	if err := t.l.Post(func() { t.close(nil) }); err != nil {
		return ErrClosed
	}
	return nil
}

func (t *PacketTransport) lose(err error) {
	t.closed.Store(true)
	t.close(&net.OpError{Op: "read", Net: "udp", Source: t.LocalAddr(), Err: err})
}

func (t *PacketTransport) close(cause error) {
	if t.closing {
		return
	}
	t.closing = true
	t.queue = nil
	t.queued = 0
	if t.recving {
		t.l.Cancel(t.recvKey)
	}
	if t.sending {
		t.l.Cancel(t.sendKey)
	}
	t.cause = cause
	t.finishIfIdle()
}

func (t *PacketTransport) finishIfIdle() {
	if t.recving || t.sending || t.done {
		return
	}
	t.done = true
	t.l.Release(t.recvKey)
	t.l.Release(t.sendKey)
	closeWatched(t.l, t.fd)
	t.proto.ConnectionLost(t.cause)
}

// LocalAddr is the socket's bound address.
func (t *PacketTransport) LocalAddr() net.Addr { return localAddr(t.fd, "udp") }

// Loop is the loop the socket belongs to.
func (t *PacketTransport) Loop() *loop.Loop { return t.l }
