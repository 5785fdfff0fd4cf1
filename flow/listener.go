package flow

import (
	"context"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// acceptBacklog bounds the connections accepted and not yet taken by
// Accept: past it the listener stops taking connections from the kernel,
// whose own backlog then holds new clients (and past that they retry
// their SYN), until Accept has taken half of the queue. A burst of
// connects larger than the queue is then served late, not refused.
const acceptBacklog = 1024

// Listener accepts connections for sequential code: it implements
// net.Listener. Connections are spread over the group's loops, and each
// Conn lives on its own loop: serve it from a flow there
// (flow.Go(c.Loop(), ...)) or from a goroutine. Accept may be called from
// flows of any loop and from goroutines.
type Listener struct {
	ln *transport.Listener

	mu       sync.Mutex // the queue is fed by every loop of the group
	conns    []*Conn
	waiters  waitq
	closed   bool
	paused   bool // the transport listener's accepts, at acceptBacklog
	deadline time.Time
}

// Listen listens on address ("tcp", "tcp4", "tcp6", "unix") over g's
// loops. From a flow (ctx its context) it parks while a pool worker sets
// the listener up; from a goroutine it blocks.
func Listen(ctx context.Context, g *loop.Group, network, address string) (*Listener, error) {
	ln := &Listener{}
	factory := func() transport.Protocol {
		c := newConn(streamNet(network))
		c.made = ln.arrived
		return c
	}
	listen := func(context.Context) error {
		tl, err := transport.Listen(g, network, address, factory)
		ln.mu.Lock() // arrived may run on a loop already
		ln.ln = tl
		ln.mu.Unlock()
		return err
	}
	var err error
	if f := caller(ctx, nil); f != nil {
		err = defaultPool.run(f, ctx, listen, func() {
			if ln.ln != nil {
				ln.ln.Close()
			}
		})
	} else {
		err = listen(ctx)
	}
	if err != nil {
		return nil, err
	}
	return ln, nil
}

// arrived runs on a connection's loop when it is made.
func (ln *Listener) arrived(c *Conn) {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		c.t.Abort()
		return
	}
	// Accepts already in flight when the pause lands still arrive: the
	// queue may pass the mark by those, never by more.
	ln.conns = append(ln.conns, c)
	if len(ln.conns) >= acceptBacklog && !ln.paused && ln.ln != nil {
		ln.paused = true
		ln.ln.PauseAccepting()
	}
	if w := ln.waiters.head; w != nil {
		w.wake(nil)
	}
	ln.mu.Unlock()
}

// Accept implements net.Listener. In a flow of any loop it parks the flow.
func (ln *Listener) Accept() (net.Conn, error) { return ln.accept(noCtx) }

// AcceptContext waits for the next connection, or for ctx's end.
func (ln *Listener) AcceptContext(ctx context.Context) (net.Conn, error) { return ln.accept(ctx) }

func (ln *Listener) accept(ctx context.Context) (net.Conn, error) {
	f := caller(ctx, nil)
	var w *waiter
	for {
		ln.mu.Lock()
		if ln.closed {
			ln.mu.Unlock()
			return nil, ln.opErr(net.ErrClosed)
		}
		if len(ln.conns) > 0 {
			c := ln.conns[0]
			ln.conns[0] = nil
			ln.conns = ln.conns[1:]
			if ln.paused && len(ln.conns) <= acceptBacklog/2 {
				ln.paused = false
				ln.ln.ResumeAccepting()
			}
			ln.mu.Unlock()
			return c, nil
		}
		dl := ln.deadline
		if !dl.IsZero() && !time.Now().Before(dl) {
			ln.mu.Unlock()
			return nil, ln.opErr(os.ErrDeadlineExceeded)
		}
		if f != nil {
			if err := f.check(ctx, true); err != nil {
				ln.mu.Unlock()
				return nil, err
			}
			w = &f.w
			w.reset()
			w.abortFn = ln.unwait
			ln.waiters.push(w)
			ln.mu.Unlock()
			pctx := ctx
			var cancel context.CancelFunc
			if !dl.IsZero() {
				if pctx == nil {
					pctx = context.Background()
				}
				pctx, cancel = context.WithDeadline(pctx, dl)
			}
			err := f.park(pctx, nil, cancellable)
			if cancel != nil {
				cancel()
			}
			if err == context.DeadlineExceeded && !dl.IsZero() {
				err = ln.opErr(os.ErrDeadlineExceeded)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		if w == nil {
			w = newGoWaiter()
		}
		w.reset()
		ln.waiters.push(w)
		ln.mu.Unlock()
		if err := ln.goWait(ctx, w, dl); err != nil {
			return nil, err
		}
	}
}

// goWait blocks a goroutine until w is woken, ctx ends or dl passes.
func (ln *Listener) goWait(ctx context.Context, w *waiter, dl time.Time) error {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	var timeout <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case <-w.ch:
		return nil
	case <-done:
		err = ctx.Err()
	case <-timeout:
		err = ln.opErr(os.ErrDeadlineExceeded)
	}
	if ln.unwait(w) {
		return err
	}
	<-w.ch // woken meanwhile: go and take the connection
	return nil
}

// unwait takes w off the waiters and reports whether it was still there.
func (ln *Listener) unwait(w *waiter) bool {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if w.q != &ln.waiters {
		return false
	}
	ln.waiters.remove(w)
	return true
}

// SetDeadline sets when Accepts that have not found a connection fail;
// it applies to Accepts that start later.
func (ln *Listener) SetDeadline(t time.Time) error {
	ln.mu.Lock()
	ln.deadline = t
	ln.mu.Unlock()
	return nil
}

// Close implements net.Listener: it stops accepting, closes connections
// not yet accepted, and wakes parked Accepts with net.ErrClosed.
func (ln *Listener) Close() error {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return ln.opErr(net.ErrClosed)
	}
	ln.closed = true
	conns := ln.conns
	ln.conns = nil
	ln.waiters.wakeAll(nil)
	ln.mu.Unlock()
	for _, c := range conns {
		c.t.Abort()
	}
	return ln.ln.Close()
}

// Addr implements net.Listener.
func (ln *Listener) Addr() net.Addr { return ln.ln.Addr() }

func (ln *Listener) opErr(err error) error {
	return &net.OpError{Op: "accept", Net: ln.ln.Addr().Network(), Addr: ln.ln.Addr(), Err: err}
}
