package port

import (
	"errors"
	"net/netip"
	"syscall"
	"unsafe"

	"github.com/cport/cport/internal/sock"
	"golang.org/x/sys/windows"
)

// Starting operations with an OVERLAPPED and finishing them when the port
// hands it back. start returns 0 when the call is in flight (its entry will
// come through the port, even if it finished inside the call) and a
// negative result when it failed at once, in which case no entry comes.

// fionbio is Winsock's FIONBIO ioctl code (_IOW('f', 126, u_long)).
const fionbio = 0x8004667e

// acceptAddrLen is the room AcceptEx needs for each address.
const acceptAddrLen = uint32(unsafe.Sizeof(windows.RawSockaddrAny{}) + 16)

// start associates the op's handle with the port and issues its call.
func (b *iocp) start(s *slot) int32 {
	op := &s.op
	h := windows.Handle(op.fd)
	info, res := b.associate(h, op.code)
	if res < 0 {
		return res
	}
	var err error
	switch op.code {
	case opAccept, opAcceptMultishot:
		return b.issueAccept(s, info)
	case opRecvMultishot:
		if !info.nonblocking {
			// The reads after the zero-byte wait must not block the loop
			// (libuv reads the same way).
			err = windows.WSAIoctl(h, fionbio, (*byte)(unsafe.Pointer(&b.one)), 4, nil, 0, &b.ioctlRet, nil, 0)
			if err != nil {
				return result(op.code, 0, errnoOf(err))
			}
			info.nonblocking = true
		}
		return b.armRecv(s)
	case opRecv:
		s.sys.buf = wsabuf(op.bytes())
		s.sys.flags = uint32(op.flags)
		err = windows.WSARecv(h, &s.sys.buf, 1, &s.sys.n, &s.sys.flags, &s.sys.ov, nil)
	case opSend:
		s.sys.buf = wsabuf(op.bytes())
		err = windows.WSASend(h, &s.sys.buf, 1, &s.sys.n, uint32(op.flags), &s.sys.ov, nil)
	case opSendmsg:
		bufs, n := op.msg.wsabufs()
		var to *windows.RawSockaddrAny
		if op.msg.sys.namelen > 0 {
			to = &op.msg.sys.name
		}
		err = windows.WSASendTo(h, bufs, n, &s.sys.n, uint32(op.flags), to, op.msg.sys.namelen, &s.sys.ov, nil)
	case opRecvmsg:
		bufs, n := op.msg.wsabufs()
		s.sys.flags = uint32(op.flags)
		err = windows.WSARecvFrom(h, bufs, n, &s.sys.n, &s.sys.flags, &op.msg.sys.name, &op.msg.sys.namelen, &s.sys.ov, nil)
	case opConnect:
		return b.issueConnect(s)
	case opRead:
		err = windows.ReadFile(h, op.bytes()[:min(len(op.bytes()), maxIO)], nil, &s.sys.ov)
	case opWrite:
		err = windows.WriteFile(h, op.bytes()[:min(len(op.bytes()), maxIO)], nil, &s.sys.ov)
	}
	return issued(op.code, err)
}

// issued turns an overlapped call's immediate error into start's result.
func issued(code opcode, err error) int32 {
	if err == nil || err == windows.ERROR_IO_PENDING {
		return 0
	}
	return result(code, 0, errnoOf(err))
}

// wsabuf describes b (at most maxIO bytes of it) to Winsock.
func wsabuf(b []byte) windows.WSABuf {
	if len(b) == 0 {
		return windows.WSABuf{}
	}
	return windows.WSABuf{Len: uint32(min(len(b), maxIO)), Buf: &b[0]}
}

// associate adds h to the port on its first operation. A handle that
// Windows says is associated already (ERROR_INVALID_PARAMETER) is taken as
// ours: the backend forgot it (a Close op) and sees it again.
func (b *iocp) associate(h windows.Handle, code opcode) (*handleInfo, int32) {
	if info, ok := b.handles[h]; ok {
		return info, 0
	}
	if _, err := windows.CreateIoCompletionPort(h, b.port, keyIO, 0); err != nil && err != windows.ERROR_INVALID_PARAMETER {
		return nil, result(code, 0, errnoOf(err))
	}
	info := &handleInfo{}
	b.handles[h] = info
	return info, 0
}

// issueAccept creates the socket to accept into, of the listener's
// family, and starts AcceptEx.
func (b *iocp) issueAccept(s *slot, info *handleInfo) int32 {
	ln := windows.Handle(s.op.fd)
	if info.family == 0 {
		a, err := sock.LocalSocketAddr(int(s.op.fd))
		if err != nil {
			return result(s.op.code, 0, errnoOf(err))
		}
		info.family = windows.AF_INET6
		if a.IP.Addr().Is4() {
			info.family = windows.AF_INET
		}
	}
	as, err := windows.WSASocket(info.family, windows.SOCK_STREAM, windows.IPPROTO_TCP, nil, 0,
		windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err != nil {
		return result(s.op.code, 0, errnoOf(err))
	}
	s.sys.acceptSock = as
	s.sys.ov = windows.Overlapped{}
	err = windows.AcceptEx(ln, as, &s.sys.acceptBuf[0], 0, acceptAddrLen, acceptAddrLen, &s.sys.n, &s.sys.ov)
	if res := issued(s.op.code, err); res < 0 {
		windows.Closesocket(as)
		s.sys.acceptSock = 0
		return res
	}
	return 0
}

// accepted finishes an AcceptEx: the new socket inherits the listener's
// properties (SO_UPDATE_ACCEPT_CONTEXT, without which getpeername and
// shutdown fail on it) and becomes the result. A multishot accept goes on
// with the next AcceptEx unless a cancel or an error ends it; a client
// that reset before it was taken ends nothing (as on Linux, where accept
// hands such a connection over), and a single accept reports it as
// ECONNRESET, whichever way Windows said it.
func (b *iocp) accepted(s *slot, e syscall.Errno) {
	as := s.sys.acceptSock
	s.sys.acceptSock = 0
	if e == 0 {
		ln := windows.Handle(s.op.fd)
		err := windows.Setsockopt(as, windows.SOL_SOCKET, windows.SO_UPDATE_ACCEPT_CONTEXT,
			(*byte)(unsafe.Pointer(&ln)), int32(unsafe.Sizeof(ln)))
		e = errnoOf(err)
	}
	if e != 0 {
		windows.Closesocket(as)
		switch {
		case !clientReset(e):
			b.finish(s, result(s.op.code, 0, e))
		case s.op.code == opAccept:
			b.finish(s, negErrno(syscall.ECONNRESET))
		case s.sys.stopping:
			b.finish(s, negErrno(syscall.ECANCELED))
		default:
			if res := b.issueAccept(s, b.handles[windows.Handle(s.op.fd)]); res < 0 {
				b.finish(s, res)
			}
		}
		return
	}
	if s.op.code == opAccept {
		b.finish(s, int32(as))
		return
	}
	b.emit(s, int32(as), 0)
	if s.sys.stopping {
		b.finish(s, negErrno(syscall.ECANCELED))
		return
	}
	if res := b.issueAccept(s, b.handles[windows.Handle(s.op.fd)]); res < 0 {
		b.finish(s, res)
	}
}

// clientReset reports whether an AcceptEx ended with e because its client
// reset the connection before it was accepted: ERROR_NETNAME_DELETED or
// WSAECONNRESET on Windows (the errors Go's own accept loop skips), and
// ERROR_UNEXP_NET_ERR on Wine, whose accept of such a client fails with
// ENOTCONN and reports it as STATUS_INVALID_CONNECTION. The error belongs
// to that client, not to the listener.
func clientReset(e syscall.Errno) bool {
	switch e {
	case windows.ERROR_NETNAME_DELETED, windows.WSAECONNRESET, windows.ERROR_UNEXP_NET_ERR:
		return true
	}
	return false
}

// armRecv starts the zero-byte WSARecv with which a multishot receive
// waits for data without holding a buffer.
func (b *iocp) armRecv(s *slot) int32 {
	s.sys.ov = windows.Overlapped{}
	s.sys.buf = windows.WSABuf{}
	s.sys.flags = 0
	err := windows.WSARecv(windows.Handle(s.op.fd), &s.sys.buf, 1, &s.sys.n, &s.sys.flags, &s.sys.ov, nil)
	return issued(opRecvMultishot, err)
}

// received runs a multishot receive once its zero-byte wait completed:
// non-blocking reads into provided buffers, each reported with FlagMore,
// until the socket is drained (wait again), the burst limit (wait again,
// which completes at once while data is left), end of stream, an error
// or a spent RecvMultishotLimit budget (the end). With no free buffer at the first read it ends with ENOBUFS, as
// io_uring does when data finds the buffer ring empty; after some reads an
// empty pool only re-arms the wait, so the next data decides.
func (b *iocp) received(s *slot, e syscall.Errno) {
	if e != 0 {
		b.finish(s, result(opRecvMultishot, 0, e))
		return
	}
	h := windows.Handle(s.op.fd)
	for n := 0; n < iocpBurst; n++ {
		if s.sys.stopping {
			b.finish(s, negErrno(syscall.ECANCELED))
			return
		}
		bid, ok := b.free.take()
		if !ok {
			if n == 0 {
				b.finish(s, negErrno(syscall.ENOBUFS))
				return
			}
			break
		}
		s.sys.buf = wsabuf(s.op.recvCap(b.bufs.get(bid)))
		s.sys.flags = uint32(s.op.flags)
		e := recvNow(h, s)
		if e != 0 || s.sys.n == 0 {
			b.recycle(bid) // nothing landed in it: io_uring keeps it too
		}
		switch {
		case e == windows.WSAEWOULDBLOCK:
			n = iocpBurst // drained: wait again
		case e != 0:
			b.finish(s, result(opRecvMultishot, 0, e))
			return
		case s.sys.n == 0:
			b.finish(s, 0) // end of stream
			return
		case spendLimit(&s.op, int32(s.sys.n)):
			b.finishData(s, int32(s.sys.n), FlagBuffer|uint32(bid)<<bufferIDShift)
			return
		default:
			b.emit(s, int32(s.sys.n), FlagBuffer|uint32(bid)<<bufferIDShift)
		}
	}
	if res := b.armRecv(s); res < 0 {
		b.finish(s, res)
	}
}

var procWSARecv = windows.NewLazySystemDLL("ws2_32.dll").NewProc("WSARecv")

// recvNow is a non-blocking WSARecv into s.sys.buf. It returns the
// error as an Errno: x/sys/windows boxes every error but IO_PENDING into
// an interface, an allocation for the WSAEWOULDBLOCK that ends every
// drained burst, so for each message received.
func recvNow(h windows.Handle, s *slot) syscall.Errno {
	r, _, e := syscall.SyscallN(procWSARecv.Addr(), uintptr(h), uintptr(unsafe.Pointer(&s.sys.buf)), 1,
		uintptr(unsafe.Pointer(&s.sys.n)), uintptr(unsafe.Pointer(&s.sys.flags)), 0, 0)
	if uint32(r) == ^uint32(0) { // SOCKET_ERROR
		if e == 0 {
			e = windows.WSAEINVAL // a failure that named no error
		}
		return e
	}
	return 0
}

// issueConnect binds the socket if it is not bound yet (ConnectEx
// requires it) and starts ConnectEx.
func (b *iocp) issueConnect(s *slot) int32 {
	h := windows.Handle(s.op.fd)
	local := netip.IPv6Unspecified()
	if s.op.target.addr.IP.Addr().Unmap().Is4() {
		local = netip.IPv4Unspecified()
	}
	err := sock.Bind(int(s.op.fd), netip.AddrPortFrom(local, 0))
	if err != nil && !errors.Is(err, windows.WSAEINVAL) { // WSAEINVAL: bound already
		return result(opConnect, 0, errnoOf(err))
	}
	if b.connectEx == 0 {
		var n uint32
		err := windows.WSAIoctl(h, windows.SIO_GET_EXTENSION_FUNCTION_POINTER,
			(*byte)(unsafe.Pointer(&windows.WSAID_CONNECTEX)), uint32(unsafe.Sizeof(windows.WSAID_CONNECTEX)),
			(*byte)(unsafe.Pointer(&b.connectEx)), uint32(unsafe.Sizeof(b.connectEx)), &n, nil, 0)
		if err != nil {
			return result(opConnect, 0, errnoOf(err))
		}
	}
	r, _, e := syscall.SyscallN(b.connectEx, uintptr(h), uintptr(unsafe.Pointer(&s.op.target.raw.sa)), uintptr(s.op.target.raw.n),
		0, 0, 0, uintptr(unsafe.Pointer(&s.sys.ov)))
	if r != 0 {
		return 0
	}
	return issued(opConnect, e)
}

// connected finishes a ConnectEx: SO_UPDATE_CONNECT_CONTEXT makes the
// socket usable with getpeername and shutdown.
func (b *iocp) connected(s *slot, e syscall.Errno) {
	if e == 0 {
		e = errnoOf(windows.Setsockopt(windows.Handle(s.op.fd), windows.SOL_SOCKET, windows.SO_UPDATE_CONNECT_CONTEXT, nil, 0))
	}
	b.finish(s, result(opConnect, 0, e))
}

// completed handles the port's entry for slot s: qty bytes moved, and the
// status Windows left in the OVERLAPPED.
func (b *iocp) completed(s *slot, qty uint32) {
	var e syscall.Errno
	if st := windows.NTStatus(s.sys.ov.Internal); st != windows.STATUS_SUCCESS {
		e = st.Errno()
	}
	switch s.op.code {
	case opAccept, opAcceptMultishot:
		b.accepted(s, e)
	case opRecvMultishot:
		b.received(s, e)
	case opConnect:
		b.connected(s, e)
	case opRecvmsg:
		if e == windows.ERROR_MORE_DATA || e == windows.WSAEMSGSIZE {
			s.op.msg.Flags |= msgTrunc
		}
		b.finish(s, result(opRecvmsg, qty, e))
	default:
		b.finish(s, result(s.op.code, qty, e))
	}
}

// msgTrunc is Linux's MSG_TRUNC, which Msg.Flags reports for a datagram
// longer than the buffers on every platform.
const msgTrunc = 0x20
