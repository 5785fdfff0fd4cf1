package transport

import "os"

// On a backend that performs its I/O itself (epoll), a connection with
// nothing in flight sends at once (port.SendNow) rather than queueing a
// send for the loop's next wait: the same system call, made without a
// copy of the data, a send key or a completion to dispatch, and without
// holding a burst's replies in write chunks until the wait. What the
// socket does not take is queued and sent as an operation, as on every
// backend. io_uring batches its sends into one system call per wait, so
// there every send stays an operation.

// sendsNow says whether c's port sends at once.
func (c *conn) sendsNow() bool { return c.l.Port().SendsNow() }

// sentNow counts n bytes that left at once, unqueued.
func (c *conn) sentNow(n int) {
	if n > 0 {
		c.l.Counters().BytesOut.Add(uint64(n))
		c.active()
	}
}

// sendQueuedNow sends what is queued at once, while the socket takes it,
// and reports whether the connection still stands (a failed send loses
// it). What the socket leaves is then flush's to start as an operation.
// It calls no protocol method: its callers (Write among them) may be in
// the middle of one, and a writer resumed here would write in between.
func (c *conn) sendQueuedNow() bool {
	for {
		segs := c.wq.pending(maxIovecs)
		if len(segs) == 0 {
			return true
		}
		var n, want int
		var err error
		p := c.l.Port()
		if len(segs) == 1 {
			want = len(segs[0].bytes())
			n, err = p.SendNow(int(c.fd), segs[0].bytes())
		} else {
			sh := c.shared()
			bufs := sh.iov[:0]
			for i := range segs {
				bufs = append(bufs, segs[i].bytes())
				want += len(segs[i].bytes())
			}
			n, err = p.SendMsgNow(int(c.fd), bufs)
			clear(bufs)
			sh.iov = bufs[:0]
		}
		if err != nil {
			c.sendFailed(err)
			return false
		}
		if n > 0 {
			c.sent(n)
		}
		if n < want {
			return true
		}
	}
}

// sendFailed loses the connection to a send's error, made at once or as
// an operation.
func (c *conn) sendFailed(err error) {
	c.lose(c.opErr("write", os.NewSyscallError("send", err)))
}
