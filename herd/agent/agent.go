// Package agent is herd's agent: a daemon that runs commands for herd
// controllers over mutual TLS, on cport. Each connection is served by
// flows of one loop: a reader flow that takes JSON-RPC messages
// (wire.go) off the TLS stream and a flow per message; a run's command is
// a flow.Cmd whose output pipes are read by flows of the same loop and
// sent back as they come (as binary output frames, frame.go, or as
// notifications to controllers of protocol 1), so a thousand idle
// connections or running commands cost no threads.
//
// Only controllers are served: a client must present a certificate
// signed by the agent's CA, valid now, for client authentication, with
// the controller role (VerifyController); every refusal is logged with
// its reason. A command runs in a process group of its own, and the whole
// group is killed when its timeout passes, when the controller cancels
// it, and when the controller's connection is lost.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/jsonrpc"
	"github.com/cport/cport/loop"
)

// Config configures a Server. Zero fields take the defaults.
type Config struct {
	TLS *tls.Config // from ServerTLS; required
	// HandshakeTimeout bounds each connection's TLS handshake, from its
	// accept: a client that connects and sends nothing is let go then.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection with no command running that sends
	// no message for this long.
	IdleTimeout time.Duration
	// MaxCommands bounds the commands running at once per connection.
	MaxCommands int
	// MaxMessage bounds one message from a controller, in bytes.
	MaxMessage int
	// MaxHandshakes bounds the TLS handshakes in progress per loop, from
	// the client's hello on (a silent client holds none): thousands at
	// once would all progress slowly and miss their timeouts together.
	MaxHandshakes int
	// Logger hears of connections and refusals; default slog.Default().
	Logger *slog.Logger
	// RunAs, if set, is the user commands run as (the agent must be root).
	RunAs *User
	// Protocol is the newest protocol version the agent grants; default
	// ProtocolVersion. ProtocolJSON makes it answer as agents did before
	// output frames, for a controller's compatibility tests.
	Protocol int
}

// Defaults of Config.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 5 * time.Minute
	DefaultMaxCommands      = 16
	DefaultMaxMessage       = 1 << 20
	DefaultMaxHandshakes    = 64
	DefaultPort             = 7722
)

// Server serves controllers.
type Server struct {
	cfg  Config
	tls  *tls.Config // cfg.TLS, taking a handshake slot at the client's hello
	rpc  jsonrpc.Server
	info Info

	handshaking sync.Map // net.Conn under a TLSConn -> its *conn, during the handshake
	slots       sync.Map // *loop.Loop -> *flow.Semaphore of MaxHandshakes

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	active sync.WaitGroup
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.TLS == nil {
		return nil, errors.New("agent: Config needs a TLS configuration")
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxCommands <= 0 {
		cfg.MaxCommands = DefaultMaxCommands
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = DefaultMaxHandshakes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Protocol <= 0 || cfg.Protocol > ProtocolVersion {
		cfg.Protocol = ProtocolVersion
	}
	s := &Server{cfg: cfg, conns: map[*conn]struct{}{}}
	s.tls = cfg.TLS.Clone()
	inner := s.tls.GetConfigForClient
	s.tls.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if err := s.takeSlot(hello.Conn); err != nil {
			return nil, err
		}
		if inner != nil {
			return inner(hello)
		}
		return nil, nil
	}
	s.rpc.MaxMessage = cfg.MaxMessage
	s.rpc.Logger = cfg.Logger
	host, _ := os.Hostname()
	s.info = Info{Version: Version, Hostname: host,
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), User: currentUser()}
	if cfg.RunAs != nil {
		s.info.User = cfg.RunAs.Name
	}
	for name, fn := range map[string]any{
		MethodInfo:   s.infoFor,
		MethodRun:    s.run,
		MethodCancel: s.cancel,
	} {
		if err := s.rpc.Register(name, fn); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// infoFor is MethodInfo: the agent's facts, and the protocol version the
// connection speaks from now on, the controller's newest or ours.
func (s *Server) infoFor(ctx context.Context, p InfoParams) (Info, error) {
	info := s.info
	info.Protocol = ProtocolJSON
	if p.Protocol >= ProtocolFrames && s.cfg.Protocol >= ProtocolFrames {
		info.Protocol = ProtocolFrames
	}
	if c := connOf(ctx); c != nil {
		c.frames = info.Protocol >= ProtocolFrames
	}
	return info, nil
}

// Listen listens for controllers on address over g's loops, with the
// server's handshake timeout.
func (s *Server) Listen(ctx context.Context, g *loop.Group, address string) (net.Listener, error) {
	return flow.TLSListenConfig{HandshakeTimeout: s.cfg.HandshakeTimeout}.Listen(ctx, g, "tcp", address, s.tls)
}

// Serve accepts connections from ln (a listener from Listen) until it is
// closed, serving each on its loop. It returns ln's error; connections
// being served go on until Close.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		tc, ok := c.(*flow.TLSConn)
		if !ok {
			c.Close()
			return fmt.Errorf("agent: Serve needs a listener from Listen, got a %T connection", c)
		}
		s.serve(tc)
	}
}

// serve starts a connection's reader flow.
func (s *Server) serve(tc *flow.TLSConn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		tc.Close()
		return
	}
	s.active.Add(1)
	s.mu.Unlock()
	flow.Go(flow.LoopOf(tc), func(f *flow.Flow) {
		defer s.active.Done()
		c := newConn(s, tc, f)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	})
}

// takeSlot waits, in the handshake of the conn over nc, for one of its
// loop's handshake slots; the serving flow gives it back after.
func (s *Server) takeSlot(nc net.Conn) error {
	v, ok := s.handshaking.Load(nc)
	if !ok {
		return nil // not one of ours: nothing to bound
	}
	c := v.(*conn)
	sv, _ := s.slots.LoadOrStore(c.f.Loop(), flow.NewSemaphore(s.cfg.MaxHandshakes))
	sem := sv.(*flow.Semaphore)
	ctx, cancel := context.WithDeadline(c.f.Context(), c.accepted.Add(s.cfg.HandshakeTimeout))
	defer cancel()
	if err := sem.Acquire(ctx); err != nil {
		return fmt.Errorf("no handshake slot within the handshake timeout (%d handshakes in progress): %w", s.cfg.MaxHandshakes, err)
	}
	c.slot = sem
	return nil
}

// Close drops every connection, killing their commands, and waits up to
// d for them to end. Close the listener first.
func (s *Server) Close(d time.Duration) {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		// Closed on its loop: crypto/tls's Close, from a goroutine, would
		// hold its write lock while waiting for the loop.
		flow.Go(c.f.Loop(), func(*flow.Flow) { c.tc.Close() })
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}
