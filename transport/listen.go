package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cport/cport/internal/sock"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// Balance says how a listener spreads connections over a group's loops.
type Balance int

const (
	// ReusePort gives every loop its own listening socket on the address
	// (SO_REUSEPORT) and lets the kernel spread connections by hash. No
	// loop ever touches another's connections. TCP only; Unix sockets use
	// Handoff. It is the default where the system has SO_REUSEPORT with
	// load balancing (Linux); elsewhere (Windows) asking for it gives
	// Handoff, since Windows has no option that spreads one address over
	// several sockets.
	ReusePort Balance = iota
	// Handoff accepts on one loop and hands each connection to the next
	// loop in turn (round robin), so load follows the loops evenly even
	// when few clients make many connections.
	Handoff
)

// ListenConfig holds a listener's options. The zero value is usable.
type ListenConfig struct {
	Balance Balance
	// SharePort lets other processes listen on the same port (SO_REUSEPORT
	// across processes, for handing a port over between two versions of a
	// server). Without it a port another socket already listens on is an
	// error (EADDRINUSE), even with Balance ReusePort, which shares the
	// port among this listener's own loops.
	SharePort bool
	// Backlog is the kernel's accept queue length; 0 means its maximum.
	Backlog int
	// AcceptBackoff is how long accepting pauses after the process or
	// system runs out of file descriptors (EMFILE, ENFILE) or memory, so
	// the loop keeps serving open connections instead of spinning.
	// Default 100 ms.
	AcceptBackoff time.Duration
	// Logger receives the first error of each kind an acceptor meets.
	// Default slog.Default().
	Logger *slog.Logger
}

// Listener accepts stream connections on a group's loops and gives each
// one a Protocol from its factory.
type Listener struct {
	network string
	addr    net.Addr
	path    string // a Unix socket's file, removed on Close
	accs    []*acceptor
	closed  atomic.Bool
	wg      sync.WaitGroup
}

// acceptor is one listening socket on one loop.
type acceptor struct {
	ln      *Listener
	l       *loop.Loop
	fd      int
	key     port.Key
	factory func() Protocol
	targets []*loop.Loop // loops to hand connections to (Handoff)
	next    int
	cfg     *ListenConfig
	logged  map[syscall.Errno]bool
	armed   bool // an accept is in flight
	closing bool
	paused  bool // PauseAccepting: the kernel's backlog holds new clients
	pausing bool // pause cancelled the accept: its ECANCELED is ours
}

// Listen is ListenConfig{}.Listen.
func Listen(g *loop.Group, network, address string, factory func() Protocol) (*Listener, error) {
	var lc ListenConfig
	return lc.Listen(g, network, address, factory)
}

// Listen listens on address ("tcp", "tcp4", "tcp6" or "unix") and serves
// each accepted connection on one of g's loops with a Protocol from
// factory. Names are resolved before it returns; call it off the loops.
// Without SO_REUSEPORT (Windows) TCP listeners use Handoff whatever
// Balance says.
func (lc ListenConfig) Listen(g *loop.Group, network, address string, factory func() Protocol) (*Listener, error) {
	if err := offLoops(g, "Listen"); err != nil {
		return nil, err
	}
	ln := &Listener{network: network}
	var fds []int
	var err error
	switch network {
	case "tcp", "tcp4", "tcp6":
		fds, err = lc.listenTCP(ln, len(g.Loops()), network, address)
	case "unix":
		lc.Balance = Handoff
		var fd int
		fd, err = sock.ListenUnix(address, sock.ListenConfig{Backlog: lc.Backlog})
		if err == nil {
			fds = []int{fd}
			ln.path = address
			ln.addr = &net.UnixAddr{Name: address, Net: "unix"}
		}
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: ln.addr, Err: err}
	}
	return lc.serve(g, ln, fds, factory)
}

// serve starts an acceptor per listening socket, the i-th on the i-th
// loop, and waits until each has registered on its loop.
func (lc ListenConfig) serve(g *loop.Group, ln *Listener, fds []int, factory func() Protocol) (*Listener, error) {
	if lc.AcceptBackoff <= 0 {
		lc.AcceptBackoff = 100 * time.Millisecond
	}
	if lc.Logger == nil {
		lc.Logger = slog.Default()
	}
	network := ln.network
	var err error
	loops := g.Loops()
	for i, fd := range fds {
		a := &acceptor{ln: ln, l: loops[i], fd: fd, factory: factory, cfg: &lc}
		if lc.Balance == Handoff {
			a.targets = loops
		}
		ln.accs = append(ln.accs, a)
	}
	// Each acceptor registers its key on its own loop's goroutine.
	errs := make(chan error, len(ln.accs))
	for _, a := range ln.accs {
		a := a
		ln.wg.Add(1)
		if err := a.l.Post(func() { errs <- a.start() }); err != nil {
			errs <- err // Close releases this acceptor below
		}
	}
	for range ln.accs {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		ln.Close()
		return nil, &net.OpError{Op: "listen", Net: network, Addr: ln.addr, Err: err}
	}
	return ln, nil
}

// ListenFile serves connections accepted on an inherited listening
// socket (systemd's socket activation passes them from fd 3; a parent may
// hand one over on exec) over g's loops, as Listen does. The listener
// works on a duplicate: f stays open, for its owner to close. One socket
// cannot be balanced by the kernel, so its loop hands connections to the
// others in turn (Handoff). Call it off the loops.
func (lc ListenConfig) ListenFile(g *loop.Group, f *os.File, factory func() Protocol) (*Listener, error) {
	if err := offLoops(g, "ListenFile"); err != nil {
		return nil, err
	}
	in, err := sock.Inherit(int(f.Fd()))
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "fd", Err: fmt.Errorf("%s: %w", f.Name(), err)}
	}
	ln := &Listener{network: in.Network}
	if in.Network == "unix" {
		ln.addr = &net.UnixAddr{Name: in.Path, Net: "unix"}
	} else {
		bound, err := sock.LocalAddr(in.FD)
		if err != nil {
			sock.Close(in.FD)
			return nil, err
		}
		ln.addr = net.TCPAddrFromAddrPort(bound)
	}
	lc.Balance = Handoff
	return lc.serve(g, ln, []int{in.FD}, factory)
}

// offLoops refuses a call made on one of g's loops: the listeners wait
// for the loops to register their acceptors.
func offLoops(g *loop.Group, call string) error {
	for _, l := range g.Loops() {
		if l.InLoop() {
			return errors.New("transport: " + call + " called on a loop; it waits for the loops, so call it from another goroutine")
		}
	}
	return nil
}

// listenTCP opens one socket per loop with SO_REUSEPORT, or one socket.
func (lc *ListenConfig) listenTCP(ln *Listener, loops int, network, address string) ([]int, error) {
	addr, err := resolveListen(network, address)
	if err != nil {
		return nil, err
	}
	if lc.Balance == ReusePort && !sock.HasReusePort {
		lc.Balance = Handoff
	}
	if lc.Balance == ReusePort && !lc.SharePort && addr.Port() != 0 {
		if err := sock.CheckFree(addr); err != nil {
			return nil, err
		}
	}
	n := 1
	if lc.Balance == ReusePort {
		n = loops
	}
	fds := make([]int, 0, n)
	for i := 0; i < n; i++ {
		fd, err := sock.ListenTCP(addr, sock.ListenConfig{Backlog: lc.Backlog, ReusePort: lc.Balance == ReusePort})
		if err != nil {
			for _, fd := range fds {
				sock.Close(fd)
			}
			return nil, err
		}
		if i == 0 {
			// Port 0 picks a port; the other sockets must share that one.
			bound, err := sock.LocalAddr(fd)
			if err != nil {
				sock.Close(fd)
				return nil, err
			}
			addr = bound
			ln.addr = net.TCPAddrFromAddrPort(bound)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// Addr is the address the listener is bound to.
func (ln *Listener) Addr() net.Addr { return ln.addr }

// Close stops accepting and closes the listening sockets; connections
// already accepted go on. From a goroutine it waits until every loop has
// let go of its socket. On a loop's thread (a callback or a flow), which
// must never wait for a loop, it returns at once: its own loop's socket
// is let go of then and there, the others' as soon as their loops turn.
func (ln *Listener) Close() error {
	if ln.closed.Swap(true) {
		return ErrClosed
	}
	cur := loop.Current()
	for _, a := range ln.accs {
		if a.l == cur {
			a.stop()
			continue
		}
		if err := a.l.Post(a.stop); err != nil {
			// The loop is shutting down: it stops a started acceptor
			// itself (AtClose). What is left once it has ended is let go
			// of here, waiting for that end off the loops, or on a
			// goroutine of its own from a loop's thread.
			if cur == nil {
				a.releaseAfterLoop()
			} else {
				go a.releaseAfterLoop()
			}
		}
	}
	if cur != nil {
		if ln.path != "" {
			os.Remove(ln.path)
		}
		return nil
	}
	ln.wg.Wait()
	if ln.path != "" {
		os.Remove(ln.path)
	}
	return nil
}

// PauseAccepting stops taking connections from the kernel until
// ResumeAccepting: new clients wait in the listening socket's backlog
// (and, past it, retry their SYN), as they do for a server that is slow
// to call accept, instead of being taken and then refused. Safe from any
// goroutine; it acts on each loop of the group when that loop turns.
func (ln *Listener) PauseAccepting() { ln.eachAcceptor((*acceptor).pause) }

// ResumeAccepting undoes PauseAccepting.
func (ln *Listener) ResumeAccepting() { ln.eachAcceptor((*acceptor).resume) }

func (ln *Listener) eachAcceptor(fn func(*acceptor)) {
	cur := loop.Current()
	for _, a := range ln.accs {
		if a.l == cur {
			fn(a)
			continue
		}
		_ = a.l.Post(func() { fn(a) }) // a loop that is gone accepts nothing anyway
	}
}

func (a *acceptor) pause() {
	if a.paused || a.closing {
		return
	}
	a.paused = true
	if a.armed {
		a.pausing = true
		a.l.Cancel(a.key)
	}
}

func (a *acceptor) resume() {
	if !a.paused {
		return
	}
	a.paused = false
	a.arm()
}

func (a *acceptor) start() error {
	k, err := a.l.Register(a.onAccept)
	if err != nil {
		a.release()
		return err
	}
	a.key = k
	a.l.AtClose(a.stop) // the loop's end ends accepting, on the loop
	if a.ln.closed.Load() {
		a.stop()
		return nil
	}
	a.arm()
	return nil
}

// arm starts a multishot accept: one submission, a completion per client.
func (a *acceptor) arm() {
	if a.closing || a.armed || a.paused {
		return
	}
	if err := a.l.Submit(a.key, port.AcceptMultishot(a.fd)); err != nil {
		a.report(err)
		a.l.CallLater(a.cfg.AcceptBackoff, a.arm)
		return
	}
	a.armed = true
}

func (a *acceptor) onAccept(c port.Completion) {
	if !c.More() {
		a.armed = false
	}
	if a.closing {
		if c.Res >= 0 {
			sock.Close(int(c.Res))
		}
		if !a.armed {
			a.release()
		}
		return
	}
	if c.Res >= 0 {
		a.serve(int(c.Res))
		a.arm()
		return
	}
	switch err := c.Err(); err {
	case syscall.ECANCELED:
		// PauseAccepting's cancel (arm does nothing while paused; a
		// resume that came first left this to arm). (The loop's cancel
		// at its close comes after AtClose's stop: a.closing, above.)
		if a.pausing {
			a.pausing = false
			a.arm()
		}
	case syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN:
		// The client gave up before we took it; nothing is wrong here.
		a.arm()
	default:
		// EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unexpected: say so
		// once and pause, so the loop serves its open connections instead
		// of spinning on a listener it cannot drain.
		a.report(err)
		a.l.CallLater(a.cfg.AcceptBackoff, a.arm)
	}
}

// serve starts a connection for fd on this loop or, handing off, the next.
func (a *acceptor) serve(fd int) {
	target := a.l
	if len(a.targets) > 0 {
		target = a.targets[a.next%len(a.targets)]
		a.next++
	}
	if target == a.l {
		a.startConn(target, fd)
		return
	}
	if err := target.Post(func() { a.startConn(target, fd) }); err != nil {
		sock.Close(fd) // never seen by a port
	}
}

func (a *acceptor) startConn(l *loop.Loop, fd int) {
	if _, err := newConn(l, fd, a.connNet(), false, a.factory); err != nil {
		closeWatched(l, fd)
	}
}

func (a *acceptor) connNet() string {
	if a.ln.network == "unix" {
		return "unix"
	}
	return "tcp"
}

// report logs the first error of each kind, so a descriptor shortage that
// lasts an hour is one line, not a million.
func (a *acceptor) report(err error) {
	errno, _ := err.(syscall.Errno)
	if a.logged == nil {
		a.logged = map[syscall.Errno]bool{}
	}
	if a.logged[errno] {
		return
	}
	a.logged[errno] = true
	a.cfg.Logger.Warn(fmt.Sprintf("transport: accept on %s: %v; pausing accepts for %v (logged once)", a.ln.addr, err, a.cfg.AcceptBackoff))
}

// stop cancels the accept; its final completion releases the socket.
func (a *acceptor) stop() {
	a.closing = true
	if a.armed {
		a.l.Cancel(a.key)
		return
	}
	a.release()
}

// releaseAfterLoop waits for a's loop to end and closes the socket if the
// loop's shutdown did not: a loop that has ended runs nothing more, so
// this goroutine may touch a, and the port is gone, so only the socket
// is left to close.
func (a *acceptor) releaseAfterLoop() {
	<-a.l.Done()
	if a.fd >= 0 {
		sock.Close(a.fd)
		a.fd = -1
		a.ln.wg.Done()
	}
}

func (a *acceptor) release() {
	if a.fd < 0 {
		return
	}
	if a.key != 0 {
		a.l.Release(a.key)
	}
	closeWatched(a.l, a.fd)
	a.fd = -1
	a.ln.wg.Done()
}
