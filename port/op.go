package port

import (
	"net/netip"
	"time"
	"unsafe"

	"github.com/cport/cport/internal/sock"
)

// opcode is the kind of operation an Op starts.
type opcode uint8

const (
	opNop opcode = iota
	opAccept
	opAcceptMultishot
	opRecv
	opRecvMultishot
	opSend
	opSendmsg
	opRecvmsg
	opConnect
	opShutdown
	opClose
	opTimeout
	opPoll
	opRead
	opWrite
	opCount
)

var opNames = [opCount]string{
	opNop: "nop", opAccept: "accept", opAcceptMultishot: "accept-multishot",
	opRecv: "recv", opRecvMultishot: "recv-multishot", opSend: "send",
	opSendmsg: "sendmsg", opRecvmsg: "recvmsg", opConnect: "connect",
	opShutdown: "shutdown", opClose: "close", opTimeout: "timeout",
	opPoll: "poll", opRead: "read", opWrite: "write",
}

func (o opcode) String() string {
	if o < opCount {
		return opNames[o]
	}
	return "op?"
}

// Op describes one operation for Submit. Build it with the constructors
// below; it is a plain value, and only Connect's allocate (the address).
//
// An Op is kept in its key's slot until the final completion, and every
// pending operation holds one, so it is kept small: 48 bytes. The buffer
// is a pointer and a length; the pointer alone keeps the caller's array
// alive.
type Op struct {
	code   opcode
	fd     int32
	flags  int32 // send/recv MSG_* flags, poll events, shutdown direction
	bufn   int32
	bufp   *byte
	msg    *Msg
	target *connectTarget
	off    int64 // file offset, a timeout's duration in nanoseconds, or a multishot receive's byte limit
}

// maxIO caps one read or write, on every backend, so that its count fits
// a Completion's int32 result; a longer buffer gives a short read or
// write, which callers handle anyway. 1 GiB, as Go's internal/poll caps
// its reads and writes (issues 7812 and 16266).
const maxIO = 1 << 30

// withBuf returns op reading or writing b.
func (op Op) withBuf(b []byte) Op {
	op.bufp = unsafe.SliceData(b)
	op.bufn = int32(min(len(b), maxIO))
	return op
}

// bytes is the op's buffer.
func (op *Op) bytes() []byte { return unsafe.Slice(op.bufp, op.bufn) }

// connectTarget is where a Connect goes, with room for the kernel's form
// of the address, which the kernel reads while the connect is in flight.
type connectTarget struct {
	addr sock.Addr
	raw  sockaddrBuf
}

// Poll events for Poll, with Linux's values (the epoll and poll(2) bits).
const (
	PollIn    = 0x1
	PollOut   = 0x4
	PollErr   = 0x8
	PollHup   = 0x10
	PollRdHup = 0x2000
)

// Nop completes at once with result 0: the cheapest round trip through
// the port, useful to measure it.
func Nop() Op { return Op{code: opNop} }

// Accept takes one connection from listening socket fd. The result is the
// new socket, non-blocking and close-on-exec.
func Accept(fd int) Op { return Op{code: opAccept, fd: int32(fd)} }

// AcceptMultishot accepts connection after connection from fd, each as a
// completion with FlagMore, until cancelled or an error ends it.
func AcceptMultishot(fd int) Op { return Op{code: opAcceptMultishot, fd: int32(fd)} }

// Recv reads into buf from socket fd. Zero means the peer closed its side.
func Recv(fd int, buf []byte) Op { return Op{code: opRecv, fd: int32(fd)}.withBuf(buf) }

// RecvMultishot reads from socket fd again and again, each time into a
// buffer taken from the port's provided-buffer pool (FlagBuffer and
// BufferID), until an error, end of stream (result 0) or cancel ends it.
// When the pool runs dry it ends with ENOBUFS: recycle buffers and
// resubmit. (On io_uring, ENOBUFS may also come while buffers are free:
// the kernel's ring holds a working set of the pool, which grows when a
// receive finds it empty; resubmitting is right there too.) Holding no buffer while idle is the point: a connection that
// waits costs no read memory.
func RecvMultishot(fd int) Op { return Op{code: opRecvMultishot, fd: int32(fd)} }

// RecvMultishotLimit is RecvMultishot that ends once limit bytes have
// arrived: its last completion carries data without FlagMore, and the
// caller resubmits to read on. A connection that stops reading for flow
// control then takes at most limit bytes more out of the socket before it
// stops, rather than as many as the pool's buffers hold, and the rest
// stays in the kernel, where TCP pushes back on the peer. io_uring applies
// the limit from Linux 6.17 on; on older kernels the port falls back to an
// unlimited receive, once, by itself.
func RecvMultishotLimit(fd, limit int) Op {
	return Op{code: opRecvMultishot, fd: int32(fd), off: int64(max(limit, 0))}
}

// RecvMultishotCapped is RecvMultishotLimit whose completions each carry
// at most each bytes, however large the pool's buffers: a connection that
// keeps only a little unread input then takes only that much out of the
// socket per receive, and the rest waits in the kernel. io_uring caps each
// receive from Linux 6.10 on (multishot sqe.len); on older kernels the
// port drops the cap, once, by itself, and receives fill whole buffers.
// each <= 0 means no cap.
func RecvMultishotCapped(fd, limit, each int) Op {
	op := RecvMultishotLimit(fd, limit)
	op.bufn = int32(max(each, 0)) // no buffer of its own: the field is free
	return op
}

// recvCap cuts buf, a provided buffer, to a capped receive's size.
func (op *Op) recvCap(buf []byte) []byte {
	if op.code == opRecvMultishot && op.bufn > 0 && int(op.bufn) < len(buf) {
		return buf[:op.bufn]
	}
	return buf
}

// spendLimit counts res bytes against a limited multishot receive's
// budget and reports whether it is spent: as io_uring does, the backends
// that emulate the limit (epoll, IOCP) then end the receive with that
// completion.
func spendLimit(op *Op, res int32) bool {
	if op.code != opRecvMultishot || op.off <= 0 {
		return false
	}
	op.off -= int64(res)
	return op.off <= 0
}

// Send writes buf to socket fd. A short count is not an error: the caller
// sends the rest. Only one send per socket should be in flight at a time;
// two may be reordered by the kernel.
func Send(fd int, buf []byte) Op { return Op{code: opSend, fd: int32(fd)}.withBuf(buf) }

// SendMsg sends m's buffers (and, for datagrams, to m.Addr) in one call.
func SendMsg(fd int, m *Msg) Op { return Op{code: opSendmsg, fd: int32(fd), msg: m} }

// RecvMsg receives into m's buffers and fills m.Addr with the sender.
func RecvMsg(fd int, m *Msg) Op { return Op{code: opRecvmsg, fd: int32(fd), msg: m} }

// Connect connects socket fd to addr.
func Connect(fd int, addr netip.AddrPort) Op {
	return Op{code: opConnect, fd: int32(fd), target: &connectTarget{addr: sock.IPAddr(addr)}}
}

// ConnectUnix connects socket fd to the Unix socket at path.
func ConnectUnix(fd int, path string) Op {
	return Op{code: opConnect, fd: int32(fd), target: &connectTarget{addr: sock.UnixAddr(path)}}
}

// Shutdown directions for Shutdown (Linux's SHUT_* values).
const (
	ShutRead  = 0
	ShutWrite = 1
	ShutBoth  = 2
)

// Shutdown shuts down one or both directions of socket fd; ShutWrite sends
// the peer an end of stream while reading goes on (a half-close).
func Shutdown(fd int, how int) Op { return Op{code: opShutdown, fd: int32(fd), flags: int32(how)} }

// Close closes fd. On Linux it does not cancel operations still in flight
// on fd (on Windows closing a socket does, and they end with ECANCELED):
// cancel them and wait for their completions first on every platform.
// Close fds through this op, not behind the port's back: the epoll and
// IOCP backends remember which descriptors they watch.
func Close(fd int) Op { return Op{code: opClose, fd: int32(fd)} }

// Timeout completes after d with ETIME.
func Timeout(d time.Duration) Op { return Op{code: opTimeout, off: int64(d)} }

// duration is a timeout's length.
func (op *Op) duration() time.Duration { return time.Duration(max(op.off, 0)) }

// Poll completes once fd is ready for any of events (PollIn, PollOut, …),
// with the ready events as its result.
func Poll(fd int, events int) Op { return Op{code: opPoll, fd: int32(fd), flags: int32(events)} }

// Read reads from file or pipe fd at offset off; off = -1 reads at the
// current position, as pipes and terminals require.
func Read(fd int, buf []byte, off int64) Op {
	return Op{code: opRead, fd: int32(fd), off: off}.withBuf(buf)
}

// Write writes to file or pipe fd at offset off (-1: current position).
func Write(fd int, buf []byte, off int64) Op {
	return Op{code: opWrite, fd: int32(fd), off: off}.withBuf(buf)
}

// MsgTrunc is set in Msg.Flags when a received datagram was longer than
// the buffers and its tail was dropped (Linux's MSG_TRUNC, on every
// platform).
const MsgTrunc = 0x20

// Msg is the message for SendMsg and RecvMsg. It belongs to the port while
// its operation is in flight; reuse it for the next message afterwards.
type Msg struct {
	// Buffers are written or filled in order (a vectored send or receive).
	Buffers [][]byte
	// Control is ancillary data to send, or room for it on receive.
	Control []byte
	// Addr is the destination of a datagram on send (zero for a connected
	// socket) and the source on receive.
	Addr netip.AddrPort
	// Flags holds the MSG_* flags the kernel set on receive (MSG_TRUNC …).
	Flags int
	// ControlLen is how much of Control a receive filled.
	ControlLen int

	sys msgSys
}
