package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// ErrDialOnLoop: Dial would block a loop's thread until a loop connects.
var ErrDialOnLoop = errors.New("transport: Dial blocks, and a loop's thread may not: use DialAsync, or flow.Dial in a flow")

// Dial connects to address on loop l and, once connected, starts proto on
// the connection. It blocks the calling goroutine until the connection is
// made or fails; ctx bounds the whole dial, name resolution included.
// Networks: tcp, tcp4, tcp6, unix. On a loop's thread it fails with
// ErrDialOnLoop: use DialAsync there.
func Dial(ctx context.Context, l *loop.Loop, network, address string, proto Protocol) (Transport, error) {
	if loop.Current() != nil {
		return nil, ErrDialOnLoop
	}
	type result struct {
		t   Transport
		err error
	}
	done := make(chan result, 1)
	DialAsync(ctx, l, network, address, proto, func(t Transport, err error) { done <- result{t, err} })
	r := <-done
	return r.t, r.err
}

// DialAsync connects like Dial without blocking anyone: done is called
// once, on l's goroutine (or, if l is closed, on another), with the
// transport or the error. ctx bounds the whole dial; its end cancels the
// connect in flight. Literal addresses start at once; names that need the
// resolver are looked up on a goroutine of their own, so neither the loop
// nor a worker pool waits for DNS.
func DialAsync(ctx context.Context, l *loop.Loop, network, address string, proto Protocol, done func(Transport, error)) {
	d := &dialer{l: l, network: network, address: address, proto: proto, done: done}
	d.deadline, _ = ctx.Deadline()
	if ctx.Done() != nil {
		d.stopWatch = context.AfterFunc(ctx, func() {
			_ = l.Post(func() { d.cancel(ctx.Err()) })
		})
	}
	begin := func(targets []target, err error) {
		if perr := l.Post(func() {
			if err != nil {
				d.finish(nil, err)
				return
			}
			d.start(targets)
		}); perr != nil {
			d.finishOff(d.fail(ErrClosed))
		}
	}
	if targets, ok := d.literal(); ok {
		begin(targets, nil)
		return
	}
	go func() { begin(d.resolve(ctx)) }()
}

// dialer is one connection attempt, driven by its key's completions.
type dialer struct {
	l        *loop.Loop
	network  string
	address  string
	proto    Protocol
	deadline time.Time
	done     func(Transport, error)

	stopWatch func() bool // ends the watch of the dial's context

	targets  []target
	fd       int
	key      port.Key
	timer    loop.Timer
	timedOut bool
	finished bool
	cause    error
}

// target is one address to try: an IP and port, or a Unix socket path.
type target struct {
	addr netip.AddrPort
	path string
}

func (d *dialer) fail(err error) error {
	return &net.OpError{Op: "dial", Net: d.network, Addr: dialAddr(d.network, d.address), Err: err}
}

func dialAddr(network, address string) net.Addr {
	if network == "unix" {
		return &net.UnixAddr{Name: address, Net: "unix"}
	}
	return nil
}

// literal returns the targets of an address that needs no resolver: a
// Unix path, or an IP literal with a numeric port.
func (d *dialer) literal() ([]target, bool) {
	if d.network == "unix" {
		return []target{{path: d.address}}, true
	}
	ap, err := netip.ParseAddrPort(d.address)
	if err != nil || d.network != "tcp" && d.network != "tcp4" && d.network != "tcp6" {
		return nil, false
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if d.network == "tcp4" && !ap.Addr().Is4() || d.network == "tcp6" && ap.Addr().Is4() {
		return nil, false // the resolver's path gives the error
	}
	return []target{{addr: ap}}, true
}

// resolve turns the address into targets; it runs off the loop.
func (d *dialer) resolve(ctx context.Context) ([]target, error) {
	switch d.network {
	case "unix":
		return []target{{path: d.address}}, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, d.fail(net.UnknownNetworkError(d.network))
	}
	addrs, err := resolveDial(ctx, d.network, d.address)
	if err != nil {
		return nil, d.fail(err)
	}
	ts := make([]target, len(addrs))
	for i, a := range addrs {
		ts[i] = target{addr: a}
	}
	return ts, nil
}

// start runs on the loop: register the key, arm the deadline, try the first
// address.
func (d *dialer) start(targets []target) {
	d.targets = targets
	d.fd = -1
	k, err := d.l.Register(d.onConnect)
	if err != nil {
		d.finish(nil, d.fail(err))
		return
	}
	d.key = k
	if !d.deadline.IsZero() {
		d.timer = d.l.CallAt(d.deadline, func() {
			d.timer = 0
			d.cancel(os.ErrDeadlineExceeded)
		})
	}
	d.next()
}

// next tries the next address, or reports the last error.
func (d *dialer) next() {
	for len(d.targets) > 0 {
		t := d.targets[0]
		d.targets = d.targets[1:]
		var err error
		var op port.Op
		if t.path != "" {
			d.fd, err = sock.UnixSocket(syscall.SOCK_STREAM)
			op = port.ConnectUnix(d.fd, t.path)
		} else {
			d.fd, err = sock.Socket(t.addr, syscall.SOCK_STREAM)
			if err == nil {
				err = sock.NoDelay(d.fd)
			}
			op = port.Connect(d.fd, t.addr)
		}
		if err == nil {
			if err = d.l.Submit(d.key, op); err == nil {
				return
			}
			closeWatched(d.l, d.fd)
			d.fd = -1
		}
		d.cause = err
	}
	d.finish(nil, d.fail(d.cause))
}

// cancel stops the attempt in flight; its completion reports err.
func (d *dialer) cancel(err error) {
	if d.finished || d.timedOut {
		return
	}
	d.timedOut = true
	d.cause = err
	d.targets = nil
	if d.fd >= 0 {
		d.l.Cancel(d.key)
	}
}

func (d *dialer) onConnect(c port.Completion) {
	if c.Res == 0 && !d.timedOut {
		fd := d.fd
		d.fd = -1
		network := "tcp"
		if d.network == "unix" {
			network = "unix"
		}
		conn, err := newConn(d.l, fd, network, true, func() Protocol { return d.proto })
		if err != nil {
			closeWatched(d.l, fd)
			d.finish(nil, d.fail(err))
			return
		}
		d.finish(conn, nil)
		return
	}
	closeWatched(d.l, d.fd)
	d.fd = -1
	if d.timedOut {
		d.finish(nil, d.fail(d.cause))
		return
	}
	d.cause = os.NewSyscallError("connect", c.Err())
	d.next()
}

func (d *dialer) finish(t Transport, err error) {
	if d.finished {
		return
	}
	d.finished = true
	if d.timer != 0 {
		d.l.CancelTimer(d.timer)
	}
	if d.key != 0 {
		d.l.Release(d.key)
	}
	if d.stopWatch != nil {
		d.stopWatch()
	}
	d.done(t, err)
}

// finishOff reports err from off the loop, when the loop is closed and
// the dial never started on it.
func (d *dialer) finishOff(err error) {
	if d.stopWatch != nil {
		d.stopWatch()
	}
	d.done(nil, err)
}
