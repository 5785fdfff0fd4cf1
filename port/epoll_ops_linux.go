package port

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// How the epoll backend performs each operation. Every call is
// non-blocking and returns what io_uring would put in the CQE: a count, a
// new fd, zero or -errno.

// start begins operation i, which has just left sq.
func (b *epollBackend) start(i int32) {
	op := &b.op(i).op
	switch op.code {
	case opNop:
		b.finish(i, 0)
	case opTimeout:
		if op.duration() <= 0 {
			b.finish(i, -int32(unix.ETIME))
			return
		}
		b.timerPush(i, b.now()+int64(op.duration()))
	case opClose:
		b.forget(int(op.fd))
		b.finish(i, sysResult(unix.Syscall(unix.SYS_CLOSE, uintptr(op.fd), 0, 0)))
	case opShutdown:
		b.finish(i, sysResult(unix.Syscall(unix.SYS_SHUTDOWN, uintptr(op.fd), uintptr(op.flags), 0)))
	case opPoll:
		b.startPoll(i)
	default:
		b.startIO(i)
	}
}

// startIO queues an I/O operation on its fd and runs the queue if the fd
// is ready.
func (b *epollBackend) startIO(i int32) {
	op := &b.op(i).op
	if op.code == opRecvMultishot && len(b.free.ids) == 0 {
		// io_uring picks the buffer before trying the socket, so an empty
		// pool ends the operation whether or not data is waiting.
		b.finish(i, -int32(unix.ENOBUFS))
		return
	}
	fd, w := int(op.fd), sideOf(op.code)
	st, res := b.track(fd)
	if res < 0 {
		b.finish(i, res)
		return
	}
	switch op.code {
	case opAccept, opAcceptMultishot, opConnect, opRead, opWrite:
		b.makeNonblocking(fd)
	}
	l := st.list(w)
	if op.code == opConnect && l.head == 0 {
		// connect changes the socket's state rather than waiting for it:
		// try it now; EINPROGRESS then waits for writability.
		st.flags |= fdWritable
	}
	b.push(l, i, w)
	b.runQueue(fd, w)
}

// startPoll completes a poll at once if fd is already ready, and parks it
// otherwise. An edge that came before the poll was submitted is not
// repeated, so the current state is asked for with poll(2).
func (b *epollBackend) startPoll(i int32) {
	op := &b.op(i).op
	fd := int(op.fd)
	st, res := b.track(fd)
	if res < 0 {
		b.finish(i, res)
		return
	}
	b.pfd = unix.PollFd{Fd: op.fd, Events: int16(op.flags)}
	n, _, e := unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&b.pfd)), 1, uintptr(unsafe.Pointer(&b.zeroTS)), 0, 0, 0)
	if e == 0 && n == 1 {
		if m := uint32(uint16(b.pfd.Revents)) & pollMask(op.flags); m != 0 {
			b.finish(i, int32(m))
			return
		}
	}
	b.push(&st.pq, i, wherePoll)
}

// pollMask is the events a poll for events completes on: errors and
// hang-ups always count, as in io_uring and poll(2).
func pollMask(events int32) uint32 {
	return uint32(events) | unix.EPOLLERR | unix.EPOLLHUP
}

// runPolls completes the polls on fd that event mask m satisfies.
func (b *epollBackend) runPolls(fd int, m uint32) {
	for i := b.fd(fd).pq.head - 1; i >= 0; {
		next := b.op(i).next - 1
		if got := m & pollMask(b.op(i).op.flags); got != 0 {
			b.finish(i, int32(got))
		}
		i = next
	}
}

// runQueue performs the operations queued on side w of fd in order while
// the fd stays ready.
func (b *epollBackend) runQueue(fd int, w opWhere) {
	ready := fdReadable
	if w == whereWrite {
		ready = fdWritable
	}
	for {
		st := b.fd(fd)
		l := st.list(w)
		if l.head == 0 || st.flags&ready == 0 {
			return
		}
		if !b.step(fd, l.head-1, ready) {
			return
		}
	}
}

// step tries operation i at the head of its queue once and reports whether
// it left the queue; if not, it waits for the next event or round.
func (b *epollBackend) step(fd int, i int32, ready fdFlags) bool {
	r := b.op(i)
	var res int32
	switch r.op.code {
	case opAcceptMultishot, opRecvMultishot:
		return b.stepMultishot(fd, i)
	case opConnect:
		res = b.connectStep(r)
	default:
		res = attempt(&r.op)
	}
	if res == -int32(unix.EAGAIN) && b.fd(fd).flags&fdNoPoll == 0 {
		b.fd(fd).flags &^= ready
		return false
	}
	b.finish(i, res)
	return true
}

// stepMultishot posts up to multishotBurst completions for a multishot
// accept or receive and reports whether the operation ended.
func (b *epollBackend) stepMultishot(fd int, i int32) bool {
	r := b.op(i)
	recv := r.op.code == opRecvMultishot
	for n := 0; n < multishotBurst; n++ {
		var res int32
		var flags uint32
		if recv {
			bid, ok := b.free.take()
			if !ok {
				b.finish(i, -int32(unix.ENOBUFS))
				return true
			}
			buf := r.op.recvCap(b.bufs.get(bid))
			res = sysRecv(r.op.fd, buf, r.op.flags)
			if res > 0 {
				flags = FlagBuffer | uint32(bid)<<bufferIDShift
				if spendLimit(&r.op, res) {
					b.unlink(i)
					b.cq.push(Completion{Key: b.key(i), Res: res, Flags: flags})
					return true
				}
				if int(res) < len(buf) && b.fd(fd).flags&(fdClosing|fdNoPoll) == 0 {
					// A short read emptied the socket. Edge-triggered epoll
					// reports the next arrival as a new event, so the recv
					// that would only say EAGAIN is skipped. Not once the
					// peer has hung up: its end of stream came with an
					// event already spent, and must be read now.
					b.emit(b.key(i), res, flags)
					b.fd(fd).flags &^= fdReadable
					return false
				}
			} else {
				// io_uring keeps the buffer when nothing landed in it.
				b.free.put(bid)
			}
		} else {
			res = sysAccept(r.op.fd)
		}
		switch {
		case res == -int32(unix.EAGAIN) && b.fd(fd).flags&fdNoPoll == 0:
			b.fd(fd).flags &^= fdReadable
			return false
		case res < 0 || (recv && res == 0):
			b.finish(i, res)
			return true
		}
		b.emit(b.key(i), res, flags)
	}
	b.later(fd)
	return false
}

// connectStep starts a connect or, once the socket is writable, collects
// its outcome; -EAGAIN means wait for writability.
func (b *epollBackend) connectStep(r *slot) int32 {
	s := &r.op.target.raw
	fd := uintptr(r.op.fd)
	if !r.connecting {
		res := sysResult(unix.Syscall(unix.SYS_CONNECT, fd, uintptr(unsafe.Pointer(&s.sa)), uintptr(s.n)))
		if res == -int32(unix.EINPROGRESS) {
			r.connecting = true
			return -int32(unix.EAGAIN)
		}
		return res
	}
	b.soErr, b.soLen = 0, 4
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_ERROR,
		uintptr(unsafe.Pointer(&b.soErr)), uintptr(unsafe.Pointer(&b.soLen)), 0)
	switch {
	case e != 0:
		return -int32(e)
	case b.soErr != 0:
		return -b.soErr
	}
	// Writability can be reported before the handshake ends (Go's net
	// checks the same way, issues 14548 and 19289): only a peer name proves
	// the connection.
	s.n = uint32(unsafe.Sizeof(s.sa))
	_, _, e = unix.Syscall(unix.SYS_GETPEERNAME, fd, uintptr(unsafe.Pointer(&s.sa)), uintptr(unsafe.Pointer(&s.n)))
	if e == unix.ENOTCONN {
		return -int32(unix.EAGAIN)
	}
	return 0
}

// attempt performs a single-shot I/O operation's system call once.
func attempt(op *Op) int32 {
	switch op.code {
	case opAccept:
		return sysAccept(op.fd)
	case opRecv:
		return sysRecv(op.fd, op.bytes(), op.flags)
	case opSend:
		// MSG_NOSIGNAL: a closed peer is the EPIPE result, as it is for a
		// Go program anyway; the signal would only cost a detour.
		return sysResult(unix.Syscall6(unix.SYS_SENDTO, uintptr(op.fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(op.bytes()))), rwLen(op.bytes()),
			uintptr(op.flags|unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL), 0, 0))
	case opRecvmsg:
		return sysResult(unix.Syscall(unix.SYS_RECVMSG, uintptr(op.fd),
			uintptr(unsafe.Pointer(&op.msg.sys.hdr)), uintptr(op.flags|unix.MSG_DONTWAIT)))
	case opSendmsg:
		return sysResult(unix.Syscall(unix.SYS_SENDMSG, uintptr(op.fd),
			uintptr(unsafe.Pointer(&op.msg.sys.hdr)), uintptr(op.flags|unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)))
	case opRead:
		if op.off < 0 {
			return sysResult(unix.Syscall(unix.SYS_READ, uintptr(op.fd),
				uintptr(unsafe.Pointer(unsafe.SliceData(op.bytes()))), rwLen(op.bytes())))
		}
		return sysResult(unix.Syscall6(unix.SYS_PREAD64, uintptr(op.fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(op.bytes()))), rwLen(op.bytes()), uintptr(op.off), 0, 0))
	case opWrite:
		if op.off < 0 {
			return sysResult(unix.Syscall(unix.SYS_WRITE, uintptr(op.fd),
				uintptr(unsafe.Pointer(unsafe.SliceData(op.bytes()))), rwLen(op.bytes())))
		}
		return sysResult(unix.Syscall6(unix.SYS_PWRITE64, uintptr(op.fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(op.bytes()))), rwLen(op.bytes()), uintptr(op.off), 0, 0))
	}
	return -int32(unix.EINVAL)
}

// sysAccept accepts one connection as a non-blocking, close-on-exec
// socket, without asking for the peer's address (as io_uring's accept with
// a nil address).
func sysAccept(fd int32) int32 {
	return sysResult(unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0,
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0))
}

// sysRecv receives into buf without blocking.
func sysRecv(fd int32, buf []byte, flags int32) int32 {
	return sysResult(unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(buf))), rwLen(buf),
		uintptr(flags|unix.MSG_DONTWAIT), 0, 0))
}

// rwLen is len(b) capped at maxIO.
func rwLen(b []byte) uintptr { return uintptr(min(len(b), maxIO)) }

// sysResult turns a raw system call's return into a completion result.
func sysResult(r1, _ uintptr, e unix.Errno) int32 {
	if e != 0 {
		return -int32(e)
	}
	return int32(r1)
}
