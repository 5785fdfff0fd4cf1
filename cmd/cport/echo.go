package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"github.com/cport/cport/transport"
)

// echoProtocol writes back what it reads: the callback style.
type echoProtocol struct {
	transport.BaseProtocol
	t    transport.Transport
	idle time.Duration // close a connection silent this long; 0: never
}

func (e *echoProtocol) ConnectionMade(t transport.Transport) {
	e.t = t
	if e.idle > 0 {
		t.SetIdleTimeout(e.idle)
	}
}
func (e *echoProtocol) DataReceived(data []byte) { e.t.Write(data) }

// echoFlow is the echo server as a flow per connection: the
// thread-per-connection server's code, run on the loop. It reads with
// Next, so a flow waiting for its client holds no read buffer.
func echoFlow(c *flow.Conn) func(*flow.Flow) {
	return func(*flow.Flow) {
		defer c.Close()
		for {
			b, err := c.Next()
			if len(b) > 0 {
				if _, werr := c.Write(b); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// echoFlowStream is echoFlow for any net.Conn (TLS), reading into a
// buffer of its own.
func echoFlowStream(c net.Conn) func(*flow.Flow) {
	return func(*flow.Flow) {
		defer c.Close()
		buf := make([]byte, echoFlowBuffer)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// echoFlowBuffer is echoFlowStream's read buffer: small, since a parked
// flow keeps it; large messages take a few reads.
const echoFlowBuffer = 4 << 10

// echoConfig is what `cport echo` serves with.
type echoConfig struct {
	addr    string
	loops   int
	backend string
	batch   time.Duration
	balance string
	style   string
	tls     string // CERT,KEY: serve over TLS
	idle    time.Duration
	share   bool // let other processes listen on the same port
}

func runEcho(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	var cfg echoConfig
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7000", "address to listen on (HOST:PORT, or a path with --network unix)")
	fs.IntVar(&cfg.loops, "loops", 0, "event loops (default GOMAXPROCS)")
	fs.StringVar(&cfg.backend, "backend", "", "uring or epoll on Linux, iocp on Windows (default: CPORT_BACKEND, else the best available)")
	fs.DurationVar(&cfg.batch, "batch-wait", loop.DefaultBatchWait, batchWaitUsage)
	fs.StringVar(&cfg.balance, "balance", "reuseport", "how connections are spread over loops: reuseport or handoff")
	fs.StringVar(&cfg.style, "style", "callback", "callback (a transport Protocol) or flow (sequential code per connection)")
	fs.StringVar(&cfg.tls, "tls", "", "serve over TLS with these PEM files: CERT,KEY (both styles)")
	fs.BoolVar(&cfg.share, "reuseport", false, "share the port with other processes that listen on it (SO_REUSEPORT); without it a port in use is an error")
	fs.DurationVar(&cfg.idle, "idle-timeout", 0, "close a connection after this long without a byte either way (default: never; not with --tls --style flow, whose handshake is bounded at 10s)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's run to this file")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics (the loops' counters, Go's, the process's) on this address's /metrics")
	startMemDebug := memDebugFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	startMemDebug(stdout)
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if cfg.loops <= 0 {
		cfg.loops = runtime.GOMAXPROCS(0)
	}
	procs := loop.ReserveProcs(cfg.loops)
	g, addr, stop, err := serveEcho(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "echo: listening on %s, %d loops, GOMAXPROCS %d, %s backend, %s style, pid %d\n",
		addr, len(g.Loops()), procs, g.Loops()[0].Backend(), cfg.style, os.Getpid())
	stopMetrics, err := serveMetrics(*metricsAddr, g, stdout)
	if err != nil {
		stop()
		g.Close()
		return err
	}
	defer stopMetrics()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stop()
	return g.Close()
}

// serveEcho starts the loops and the listener in the chosen style; stop
// closes the listener.
func serveEcho(cfg echoConfig) (g *loop.Group, addr net.Addr, stop func(), err error) {
	lc := transport.ListenConfig{SharePort: cfg.share}
	switch cfg.balance {
	case "reuseport":
		lc.Balance = transport.ReusePort
	case "handoff":
		lc.Balance = transport.Handoff
	default:
		return nil, nil, nil, fmt.Errorf("--balance %q: want reuseport or handoff", cfg.balance)
	}
	if cfg.style != "callback" && cfg.style != "flow" {
		return nil, nil, nil, fmt.Errorf("--style %q: want callback or flow", cfg.style)
	}
	g, err = loop.NewGroup(cfg.loops, loop.Config{Port: port.Config{Backend: cfg.backend, BatchWait: loopBatchWait(cfg.batch)}})
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.tls != "" {
		addr, stop, err := serveEchoTLS(cfg, g, lc)
		if err != nil {
			g.Close()
			return nil, nil, nil, err
		}
		return g, addr, stop, nil
	}
	if cfg.style == "callback" {
		ln, err := lc.Listen(g, "tcp", cfg.addr, func() transport.Protocol { return &echoProtocol{idle: cfg.idle} })
		if err != nil {
			g.Close()
			return nil, nil, nil, err
		}
		return g, ln.Addr(), func() { ln.Close() }, nil
	}
	ln, err := flow.Listen(context.Background(), g, "tcp", cfg.addr)
	if err != nil {
		g.Close()
		return nil, nil, nil, err
	}
	// Each connection's flow runs on the loop it arrived on.
	addr, stop = acceptEach(ln, func(c net.Conn) {
		fc := c.(*flow.Conn)
		if cfg.idle > 0 {
			fc.Transport().SetIdleTimeout(cfg.idle)
		}
		flow.Go(fc.Loop(), echoFlow(fc))
	})
	return g, addr, stop, nil
}

// acceptEach accepts from ln on a goroutine until ln is closed, handing
// each connection to serve; it returns ln's address and what closes it.
// Accepting on a goroutine costs a wake-up per connection, not per
// message.
func acceptEach(ln net.Listener, serve func(net.Conn)) (net.Addr, func()) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	return ln.Addr(), func() { ln.Close() }
}
