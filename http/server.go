package http

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// Handler serves one request natively: it runs in a flow of the
// connection's loop, reads the body from r and writes the response to w.
// Neither may be kept after it returns.
type Handler interface {
	ServeHTTP(w *ResponseWriter, r *Request)
}

// HandlerFunc is a Handler made of a function.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeHTTP calls f.
func (f HandlerFunc) ServeHTTP(w *ResponseWriter, r *Request) { f(w, r) }

// Server serves HTTP/1.1 on a loop group's transports.
type Server struct {
	// Handler serves every request; Adapt turns a net/http.Handler into
	// one.
	Handler Handler
	// Limits bounds each request; zero fields take their defaults.
	Limits Limits
	// Logger receives handler panics; default slog.Default().
	Logger *slog.Logger
	// ListenConfig is how Listen spreads connections over the loops, and
	// whether the port may be shared with other processes.
	ListenConfig transport.ListenConfig
	// DisableHTTP2 keeps ListenTLS to HTTP/1.1. Without it the server
	// offers ALPN "h2" before "http/1.1", as Go's net/http does, and
	// serves the clients that choose h2 over HTTP/2 (h2.go).
	DisableHTTP2 bool
	// H2C also serves cleartext HTTP/2 on Listen's and ListenFile's
	// connections: a client that opens with HTTP/2's preface (prior
	// knowledge) or asks for "Upgrade: h2c". Off by default, as in Go's
	// net/http: a proxy in front that speaks only HTTP/1.1 may pass the
	// preface on without understanding it.
	H2C bool
	// HTTP2 tunes the HTTP/2 connections (streams per connection, frame
	// and window sizes), as net/http.Server's field of the same name
	// does; nil takes the defaults.
	HTTP2 *nethttp.HTTP2Config

	lim      Limits
	loops    map[*loop.Loop]*loopState // fixed by Listen, then read-only
	unbound  *loopState                // a new connection's, until it learns its loop
	shutting atomic.Bool
	nconns   atomic.Int64 // connections tracked by the loops, for Shutdown

	mu  sync.Mutex
	lns []*transport.Listener
	h2  h2State // the connections serving HTTP/2, and their server
}

// ErrServerClosed is returned by Listen after Shutdown or Close.
var ErrServerClosed = errors.New("http: server closed")

// Listen starts serving on address ("tcp", "tcp4", "tcp6" or "unix") over
// g's loops and returns the bound address. Call it off the loops; it may
// be called more than once, with the same group.
func (s *Server) Listen(g *loop.Group, network, address string) (net.Addr, error) {
	unbound, err := s.bind(g)
	if err != nil {
		return nil, err
	}
	ln, err := s.ListenConfig.Listen(g, network, address, func() transport.Protocol { return newConn(unbound) })
	return s.added(ln, err)
}

// ListenTLS is Listen over TLS with cfg (certificates at least). The
// server offers ALPN's "h2" and "http/1.1", or "http/1.1" alone with
// DisableHTTP2, whatever cfg's NextProtos say: a client that chooses h2
// is served HTTP/2, any other HTTP/1.1 (a client that insists on a
// protocol not offered fails its handshake). A handshake is bounded by
// Limits.ReadHeaderTimeout, as the head that follows it is. Request.TLS and Adapt's http.Request.TLS describe the
// connection.
func (s *Server) ListenTLS(g *loop.Group, network, address string, cfg *tls.Config) (net.Addr, error) {
	ts, err := s.tlsServer(g, cfg)
	if err != nil {
		return nil, err
	}
	ln, err := ts.Listen(g, network, address)
	return s.added(ln, err)
}

// tlsServer is the TLS front of ListenTLS and ListenFileTLS.
func (s *Server) tlsServer(g *loop.Group, cfg *tls.Config) (*flow.TLSServer, error) {
	if cfg == nil {
		return nil, errors.New("http: ListenTLS needs a tls.Config with a certificate")
	}
	unbound, err := s.bind(g)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	if !s.DisableHTTP2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	return &flow.TLSServer{
		Config:           cfg,
		Factory:          func() transport.Protocol { return newConn(unbound) },
		HandshakeTimeout: s.lim.ReadHeaderTimeout,
		ListenConfig:     s.ListenConfig,
	}, nil
}

// ListenFile serves on an inherited listening socket (systemd's socket
// activation passes it as fd 3: os.NewFile(3, "listener")), as
// transport.ListenConfig.ListenFile does; f stays open, the caller's.
func (s *Server) ListenFile(g *loop.Group, f *os.File) (net.Addr, error) {
	unbound, err := s.bind(g)
	if err != nil {
		return nil, err
	}
	ln, err := s.ListenConfig.ListenFile(g, f, func() transport.Protocol { return newConn(unbound) })
	return s.added(ln, err)
}

// ListenFileTLS is ListenFile over TLS with cfg, as ListenTLS is Listen
// over TLS.
func (s *Server) ListenFileTLS(g *loop.Group, f *os.File, cfg *tls.Config) (net.Addr, error) {
	ts, err := s.tlsServer(g, cfg)
	if err != nil {
		return nil, err
	}
	ln, err := ts.ListenFile(g, f)
	return s.added(ln, err)
}

// bind fixes the server's loops at the first Listen.
func (s *Server) bind(g *loop.Group) (*loopState, error) {
	if s.shutting.Load() {
		return nil, ErrServerClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loops == nil {
		s.lim = s.Limits.withDefaults()
		s.loops = make(map[*loop.Loop]*loopState)
		for _, l := range g.Loops() {
			s.loops[l] = &loopState{s: s, l: l}
		}
		s.unbound = &loopState{s: s}
	}
	return s.unbound, nil
}

// added records a new listener for Shutdown and Close.
func (s *Server) added(ln *transport.Listener, err error) (net.Addr, error) {
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	return ln.Addr(), nil
}

func (s *Server) loopState(l *loop.Loop) *loopState { return s.loops[l] }

// track adds c to its loop's list, unless the server is shutting down.
// Shutdown sets shutting before it posts its sweep to the loop, so a
// connection made after the sweep sees the flag and one made before is
// in the list it sweeps.
func (ls *loopState) track(c *conn) bool {
	if ls.s.shutting.Load() {
		return false
	}
	c.idx = int32(len(ls.conns))
	ls.conns = append(ls.conns, c)
	ls.s.nconns.Add(1)
	if ls.sweeper == 0 {
		ls.armSweep()
	}
	return true
}

func (ls *loopState) untrack(c *conn) {
	if c.idx < 0 {
		return
	}
	last := len(ls.conns) - 1
	ls.conns[c.idx] = ls.conns[last]
	ls.conns[c.idx].idx = c.idx
	c.idx = -1
	ls.conns[last] = nil
	ls.conns = ls.conns[:last]
	ls.s.nconns.Add(-1)
}

// eachConn runs fn on every connection of every loop, on that loop. fn
// may close them: it walks a copy of each list.
func (s *Server) eachConn(fn func(*conn)) {
	for l, ls := range s.loops {
		_ = l.Post(func() {
			for _, c := range slices.Clone(ls.conns) {
				fn(c)
			}
		})
	}
}

// logPanic reports a handler's panic; the connection is answered 500 or
// aborted, and the server goes on.
func (s *Server) logPanic(remote net.Addr, v any) {
	lg := s.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lg.Error("http: handler panic", "remote", remote, "panic", v)
}

// Shutdown stops accepting, closes idle connections, lets requests in
// progress finish (their connections close after the response) and
// waits for every connection to end. When ctx ends first, the remaining
// connections are aborted and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	lns := s.lns
	s.lns = nil
	s.mu.Unlock()
	s.eachConn((*conn).shutdownIdle)
	for _, ln := range lns {
		_ = ln.Close()
	}
	s.h2Server()
	s.h2.shutdown()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.nconns.Load() == 0 && s.h2.count() == 0 {
			s.stopWorkers()
			return nil
		}
		select {
		case <-ctx.Done():
			s.abortAll()
			s.h2.closeAll()
			s.stopWorkers()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops accepting and aborts every connection at once.
func (s *Server) Close() error {
	s.shutting.Store(true)
	s.mu.Lock()
	lns := s.lns
	s.lns = nil
	s.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
	s.abortAll()
	s.h2.closeAll()
	s.stopWorkers()
	return nil
}

func (s *Server) abortAll() {
	s.eachConn(func(c *conn) { c.t.Abort() })
}

func (s *Server) stopWorkers() {
	for l, ls := range s.loops {
		_ = l.Post(ls.stop)
	}
}

// loopState is a server's per-loop state, touched only on that loop: the
// connections waiting for a worker, the idle worker flows, free buffers,
// and the formatted Date.
type loopState struct {
	s        *Server
	l        *loop.Loop
	conns    []*conn    // every open connection, for Shutdown; conn.idx is its place
	sweeper  loop.Timer // the next sweep, armed while there are connections
	sweepFn  func()
	fresh    connQueue // connections waiting for a worker (runq.go)
	later    connQueue
	freshRun int // fresh connections taken since the last of later
	awake    int // workers woken or started that have not yet looked at the queue
	idle     []*worker
	stopped  bool
	bufs     [][]byte
	scratch  []byte
	iov      [3][]byte
	dateBuf  []byte
	dateSec  int64
}

// Buffer pool: connections and response bodies take a buffer while busy
// and give it back when idle, so idle connections hold none.
const (
	bufSize     = 4 << 10
	maxBufKept  = 256 << 10 // a buffer grown past this goes to the collector
	maxFreeBufs = 128
)

func (ls *loopState) getBuf() []byte {
	if n := len(ls.bufs); n > 0 {
		b := ls.bufs[n-1]
		ls.bufs = ls.bufs[:n-1]
		return b
	}
	return make([]byte, 0, bufSize)
}

func (ls *loopState) putBuf(b []byte) {
	if cap(b) >= bufSize && cap(b) <= maxBufKept && len(ls.bufs) < maxFreeBufs {
		ls.bufs = append(ls.bufs, b[:0])
	}
}

// date is the Date field's value, formatted once a second.
func (ls *loopState) date(now time.Time) []byte {
	if sec := now.Unix(); sec != ls.dateSec || ls.dateBuf == nil {
		ls.dateSec = sec
		ls.dateBuf = now.UTC().AppendFormat(ls.dateBuf[:0], nethttp.TimeFormat)
	}
	return ls.dateBuf
}

// maxIdleWorkers bounds the flows a loop keeps parked for future
// requests; flows started beyond it end when the run queue is empty.
const maxIdleWorkers = 256

// worker is a flow that serves the connections of its loop's run queue,
// one at a time, and parks when the queue is empty: requests reuse flows
// rather than start one each.
type worker struct {
	ls      *loopState
	f       *flow.Flow
	ev      flow.Event
	dataEv  flow.Event // set when input arrives for a parked body Read
	writeEv flow.Event // set when the transport drains after a pause
	req     Request
	resp    ResponseWriter
}

// wake resumes an idle worker, or starts one.
func (ls *loopState) wake() {
	ls.awake++
	if n := len(ls.idle); n > 0 {
		w := ls.idle[n-1]
		ls.idle = ls.idle[:n-1]
		w.ev.Set()
		return
	}
	w := &worker{ls: ls}
	w.f = flow.Go(ls.l, w.run)
}

func (w *worker) run(f *flow.Flow) {
	ctx := f.Context()
	ls := w.ls
	for {
		ls.awake--
		for c := ls.next(); c != nil; c = ls.next() {
			if ls.queued() > 0 && ls.awake == 0 {
				ls.wake()
			}
			c.serve(ctx, w)
		}
		if ls.stopped || len(ls.idle) >= maxIdleWorkers {
			return
		}
		ls.idle = append(ls.idle, w)
		w.ev.Clear()
		if err := w.ev.Wait(ctx); err != nil {
			return
		}
	}
}

// stop ends the parked workers (on the loop, at shutdown).
func (ls *loopState) stop() {
	ls.stopped = true
	for _, w := range ls.idle {
		w.f.Cancel()
	}
	ls.idle = nil
}
