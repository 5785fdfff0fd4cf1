package port

// A backend that performs socket I/O itself (epoll) can also send at
// once, outside any operation: a writer with nothing queued then skips
// what an operation costs (a key, a copy of the data that must outlive
// the call, a completion to dispatch) and makes the one system call the
// backend would have made at its next wait. io_uring and IOCP hand a send
// to the kernel as an operation; there a send stays one.
type directSender interface {
	sendNow(fd int, b []byte) (int, error)
	sendMsgNow(fd int, bufs [][]byte) (int, error)
}

// SendsNow reports whether SendNow and SendMsgNow work on this port: on
// the epoll backend, not on io_uring or IOCP.
func (p *Port) SendsNow() bool { return p.direct != nil }

// SendNow sends what socket fd takes of b at once, without blocking, and
// returns how many bytes it took: 0, and no error, when the socket's
// buffer is full. It is for a writer with nothing queued or in flight on
// fd, which would be overtaken; whatever is left it submits as a Send, and
// the backend then waits for the socket to drain before trying it. Errors
// are the system call's (a syscall.Errno: EPIPE or ECONNRESET when the
// peer has gone), ErrUnsupported where SendsNow is false, or ErrClosed.
// The port's owning goroutine only.
func (p *Port) SendNow(fd int, b []byte) (int, error) {
	d, err := p.directSender()
	if err != nil {
		return 0, err
	}
	return d.sendNow(fd, b)
}

// SendMsgNow is SendNow for several buffers, sent in order in one call.
func (p *Port) SendMsgNow(fd int, bufs [][]byte) (int, error) {
	d, err := p.directSender()
	if err != nil {
		return 0, err
	}
	return d.sendMsgNow(fd, bufs)
}

func (p *Port) directSender() (directSender, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if p.direct == nil {
		return nil, ErrUnsupported
	}
	return p.direct, nil
}
