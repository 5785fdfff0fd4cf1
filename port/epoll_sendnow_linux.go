package port

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendNow is Port.SendNow on epoll: the send the backend would make for a
// Send operation, made now.
func (b *epollBackend) sendNow(fd int, p []byte) (int, error) {
	if b.knownFull(fd) {
		return 0, nil
	}
	r := sysResult(unix.Syscall6(unix.SYS_SENDTO, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), rwLen(p),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0))
	return b.sentNow(fd, r, int(rwLen(p)))
}

// maxSendIovecs is the kernel's bound on one sendmsg's iovecs (UIO_MAXIOV).
const maxSendIovecs = 1024

// sendMsgNow is Port.SendMsgNow on epoll. The iovecs live in the backend,
// so that the call allocates nothing and a caller on a small stack (a
// flow's) does not grow it.
func (b *epollBackend) sendMsgNow(fd int, bufs [][]byte) (int, error) {
	if b.knownFull(fd) {
		return 0, nil
	}
	b.iov = b.iov[:0]
	total := 0
	for _, p := range bufs {
		if len(p) == 0 {
			continue
		}
		n := min(len(p), maxIO-total)
		if n == 0 || len(b.iov) == maxSendIovecs {
			break // a short send, which the caller handles anyway
		}
		b.iov = append(b.iov, unix.Iovec{Base: unsafe.SliceData(p), Len: uint64(n)})
		total += n
	}
	if len(b.iov) == 0 {
		return 0, nil
	}
	b.hdr = unix.Msghdr{Iov: unsafe.SliceData(b.iov), Iovlen: uint64(len(b.iov))}
	r := sysResult(unix.Syscall(unix.SYS_SENDMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&b.hdr)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL))
	clear(b.iov) // the caller's memory is not the backend's to keep
	b.hdr = unix.Msghdr{}
	return b.sentNow(fd, r, total)
}

// sentNow turns a direct send's result into SendNow's. A send that did not
// take everything found the socket's buffer full: the socket's next
// writable edge, which the kernel raises once the buffer drains, is then
// the backend's cue, so the Send the caller submits for the rest waits for
// it rather than failing a send first.
func (b *epollBackend) sentNow(fd int, res int32, want int) (int, error) {
	if res == -int32(unix.EAGAIN) {
		res = 0
	}
	if res < 0 {
		return 0, unix.Errno(-res)
	}
	if int(res) < want && fd < b.fds.size() {
		b.fd(fd).flags &^= fdWritable
	}
	return int(res), nil
}

// knownFull says whether fd's send buffer was full when last tried and no
// writable edge has come since: a send now would only fail with EAGAIN.
func (b *epollBackend) knownFull(fd int) bool {
	if fd < 0 || fd >= b.fds.size() {
		return false
	}
	st := b.fd(fd)
	return st.flags&fdRegistered != 0 && st.flags&fdWritable == 0
}
