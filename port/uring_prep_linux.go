package port

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// prepRW fills the fields most operations share, as liburing's
// io_uring_prep_rw does.
func prepRW(sqe *ioUringSQE, opcode uint8, fd int32, addr unsafe.Pointer, n uint32, off uint64) {
	sqe.opcode = opcode
	sqe.fd = fd
	sqe.addr = uint64(uintptr(addr))
	sqe.len = n
	sqe.off = off
}

// bufAddr is the address of b's first byte, or nil for an empty slice.
func bufAddr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// prepOp translates the slot's operation into an SQE. slot.prepare has
// already written the memory the kernel reads (addresses, timespecs,
// message headers), so nothing here can fail.
func prepOp(sqe *ioUringSQE, s *slot, ts *unix.Timespec) {
	op := &s.op
	switch op.code {
	case opNop:
		sqe.opcode = iorNop
	case opAccept, opAcceptMultishot:
		prepRW(sqe, iorAccept, op.fd, nil, 0, 0)
		sqe.opFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
		if op.code == opAcceptMultishot {
			sqe.ioprio = acceptMultishot
		}
	case opRecv:
		prepRW(sqe, iorRecv, op.fd, bufAddr(op.bytes()), uint32(len(op.bytes())), 0)
	case opRecvMultishot:
		prepRW(sqe, iorRecv, op.fd, nil, 0, 0)
		sqe.ioprio = recvMultishot
		sqe.flags = sqeBufferSelect
		sqe.bufIndex = 0 // buffer group 0: the port's pool
	case opSend:
		// MSG_NOSIGNAL: a peer that went away is an EPIPE result, not a
		// SIGPIPE that kills the process.
		prepRW(sqe, iorSend, op.fd, bufAddr(op.bytes()), uint32(len(op.bytes())), 0)
		sqe.opFlags = unix.MSG_NOSIGNAL
	case opSendmsg:
		prepRW(sqe, iorSendmsg, op.fd, unsafe.Pointer(&op.msg.sys.hdr), 1, 0)
		sqe.opFlags = unix.MSG_NOSIGNAL
	case opRecvmsg:
		prepRW(sqe, iorRecvmsg, op.fd, unsafe.Pointer(&op.msg.sys.hdr), 1, 0)
	case opConnect:
		prepRW(sqe, iorConnect, op.fd, unsafe.Pointer(&op.target.raw.sa), 0, uint64(op.target.raw.n))
	case opShutdown:
		prepRW(sqe, iorShutdown, op.fd, nil, uint32(op.flags), 0)
	case opClose:
		prepRW(sqe, iorClose, op.fd, nil, 0, 0)
	case opTimeout:
		// The kernel copies the timespec when it reads the entry, so it
		// lives beside the entry, not in the slot.
		*ts = unix.NsecToTimespec(int64(op.duration()))
		prepRW(sqe, iorTimeout, -1, unsafe.Pointer(ts), 1, 0)
	case opPoll:
		prepRW(sqe, iorPollAdd, op.fd, nil, 0, 0)
		sqe.opFlags = uint32(op.flags)
	case opRead:
		prepRW(sqe, iorRead, op.fd, bufAddr(op.bytes()), uint32(len(op.bytes())), uint64(op.off))
	case opWrite:
		prepRW(sqe, iorWrite, op.fd, bufAddr(op.bytes()), uint32(len(op.bytes())), uint64(op.off))
	}
}
