package flow

import (
	"context"
	"io"
	"os"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"golang.org/x/sys/unix"
)

// Pipe is the parent's end of a command's stdin, stdout or stderr: a
// non-blocking, close-on-exec pipe whose reads and writes park the flow
// until the loop's port says the pipe is ready. It implements io.Reader
// (stdout, stderr) or io.Writer (stdin), and io.Closer. Use it from flows
// of the command's loop; from a plain goroutine its calls block the
// goroutine.
type Pipe struct {
	name  string // "|0", "|1", "|2", for errors
	fd    int
	write bool
	l     *loop.Loop

	// Loop only from here on.
	key     port.Key
	polling bool
	closed  bool
	waiters waitq
}

// A pipe is read and written with plain non-blocking read(2) and
// write(2) straight into the caller's slice, and waits with a Poll op
// when they say EAGAIN — not with port.Read/Write ops. A Read or Write
// op would own the caller's slice until its completion, even after the
// call gave up (a cancelled flow, a deadline), and io.Reader forbids
// touching p after Read returns; a cancelled poll touches nothing. And on
// io_uring a read on an O_NONBLOCK pipe fails with EAGAIN rather than
// waiting, so a poll would be needed anyway.

// Complete is the pipe's poll completion (loop only): readiness, or the
// end of a cancelled poll; the waiters try again either way.
func (p *Pipe) Complete(port.Completion) {
	p.polling = false
	p.waiters.wakeAll(nil)
}

// Read implements io.Reader.
func (p *Pipe) Read(b []byte) (int, error) { return p.do(noCtx, b, (*Pipe).readStep) }

// ReadContext is Read that also ends when ctx does.
func (p *Pipe) ReadContext(ctx context.Context, b []byte) (int, error) {
	return p.do(ctx, b, (*Pipe).readStep)
}

// Write implements io.Writer: it returns once all of b is in the pipe.
func (p *Pipe) Write(b []byte) (int, error) { return p.do(noCtx, b, (*Pipe).writeStep) }

// WriteContext is Write that also ends when ctx does.
func (p *Pipe) WriteContext(ctx context.Context, b []byte) (int, error) {
	return p.do(ctx, b, (*Pipe).writeStep)
}

// readStep is one try at a Read (loop only); false means w waits.
func (p *Pipe) readStep(w *waiter) bool {
	if w.n > 0 || w.err != nil || len(w.p) == 0 {
		return true
	}
	for {
		if p.closed {
			w.err = p.pathErr("read", os.ErrClosed)
			return true
		}
		n, err := unix.Read(p.fd, w.p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return p.arm(w, port.PollIn)
		case err != nil:
			w.err = p.pathErr("read", err)
		case n == 0:
			w.err = io.EOF
		default:
			w.n = n
		}
		return true
	}
}

// writeStep writes what the pipe takes; false means w waits for room.
func (p *Pipe) writeStep(w *waiter) bool {
	for w.err == nil && w.n < len(w.p) {
		if p.closed {
			w.err = p.pathErr("write", os.ErrClosed)
			break
		}
		n, err := unix.Write(p.fd, w.p[w.n:])
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return p.arm(w, port.PollOut)
		case err != nil:
			w.err = p.pathErr("write", err)
		default:
			w.n += n
		}
	}
	return true
}

// arm queues w and makes sure a poll is in flight (loop only). One poll
// serves every waiter; it is registered on first need, so a pipe that
// never waits costs no key.
func (p *Pipe) arm(w *waiter, events int) bool {
	if !p.polling {
		if p.key == 0 {
			k, err := p.l.RegisterHandler(p)
			if err != nil {
				w.err = p.pathErr("poll", err)
				return true
			}
			p.key = k
		}
		if err := p.l.Submit(p.key, port.Poll(p.fd, events)); err != nil {
			w.err = p.pathErr("poll", err)
			return true
		}
		p.polling = true
	}
	p.waiters.push(w)
	return false
}

// do runs step until it reports the call over, parking the flow between
// tries, or from a goroutine posting each try and blocking.
func (p *Pipe) do(ctx context.Context, b []byte, step func(*Pipe, *waiter) bool) (int, error) {
	if p.l == nil {
		return 0, p.pathErr("io", errNotStarted)
	}
	if f := caller(ctx, p.l); f != nil && f.l == p.l {
		w := &f.w
		if err := f.check(ctx, true); err != nil {
			return 0, err
		}
		w.reset()
		w.p = b
		for !step(p, w) {
			if err := f.park(ctx, nil, cancellable); err != nil {
				w.err = err
			}
		}
		w.p = nil
		return w.n, w.err
	}
	if p.l.InLoop() {
		return 0, ErrNotInFlow
	}
	w := newGoWaiter()
	w.p = b
	if err := awaitOn(p.l, ctx, w, func(w *waiter) bool { return step(p, w) }, abortGo); err != nil {
		if err == loop.ErrClosed {
			err = p.pathErr("io", os.ErrClosed)
		}
		return w.n, err
	}
	return w.n, w.err
}

// Close implements io.Closer. Parked calls return os.ErrClosed.
func (p *Pipe) Close() error {
	var err error
	closeFD := func() {
		if p.closed {
			err = p.pathErr("close", os.ErrClosed)
			return
		}
		p.closed = true
		if p.l != nil {
			p.waiters.wakeAll(nil)
			if p.key != 0 {
				p.l.Release(p.key) // cancels the poll; it pins no memory
				p.key = 0
			}
			// The epoll backend watches the fd once polled: tell it first.
			p.l.Port().Forget(p.fd)
		}
		if e := unix.Close(p.fd); e != nil {
			err = p.pathErr("close", e)
		}
	}
	if p.l == nil || p.l.InLoop() {
		closeFD()
		return err
	}
	ran, perr := runOrPost(p.l, closeFD)
	switch {
	case perr != nil:
		closeFD() // the loop is gone: nothing else touches the pipe
	case !ran:
		return nil
	}
	return err
}

func (p *Pipe) pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: p.name, Err: err}
}
