package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"github.com/cport/cport/transport"
)

// echoProtocol writes back what it reads: the callback style.
type echoProtocol struct {
	transport.BaseProtocol
	t transport.Transport
}

func (e *echoProtocol) ConnectionMade(t transport.Transport) { e.t = t }
func (e *echoProtocol) DataReceived(data []byte)             { e.t.Write(data) }

// echoConfig is what `cport echo` serves with.
type echoConfig struct {
	addr    string
	loops   int
	backend string
	balance string
}

func runEcho(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	var cfg echoConfig
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7000", "address to listen on (HOST:PORT, or a path with --network unix)")
	fs.IntVar(&cfg.loops, "loops", 0, "event loops (default GOMAXPROCS)")
	fs.StringVar(&cfg.backend, "backend", "", "uring or epoll (default: CPORT_BACKEND, else the best available)")
	fs.StringVar(&cfg.balance, "balance", "reuseport", "how connections are spread over loops: reuseport or handoff")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	g, ln, err := serveEcho(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "echo: listening on %s, %d loops, %s backend, pid %d\n",
		ln.Addr(), len(g.Loops()), g.Loops()[0].Backend(), os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ln.Close()
	return g.Close()
}

// serveEcho starts the loops and the listener.
func serveEcho(cfg echoConfig) (*loop.Group, *transport.Listener, error) {
	lc := transport.ListenConfig{}
	switch cfg.balance {
	case "reuseport":
		lc.Balance = transport.ReusePort
	case "handoff":
		lc.Balance = transport.Handoff
	default:
		return nil, nil, fmt.Errorf("--balance %q: want reuseport or handoff", cfg.balance)
	}
	g, err := loop.NewGroup(cfg.loops, loop.Config{Port: port.Config{Backend: cfg.backend}})
	if err != nil {
		return nil, nil, err
	}
	ln, err := lc.Listen(g, "tcp", cfg.addr, func() transport.Protocol { return &echoProtocol{} })
	if err != nil {
		g.Close()
		return nil, nil, err
	}
	return g, ln, nil
}
