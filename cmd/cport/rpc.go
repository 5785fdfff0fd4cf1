package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/jsonrpc"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// runRPC serves JSON-RPC 2.0 over newline-delimited TCP streams, one flow
// per connection: echo returns its params, add the sum of a list of
// numbers. It is the stream server `bench hostile --kind rpcbatch` and
// a newcomer's first JSON-RPC client point at.
func runRPC(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("rpc", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7100", "address to listen on (HOST:PORT)")
	loops := fs.Int("loops", 0, "event loops (default GOMAXPROCS)")
	backend := fs.String("backend", "", "uring or epoll on Linux, iocp on Windows (default: CPORT_BACKEND, else the best available)")
	var s jsonrpc.Server
	fs.IntVar(&s.MaxBatch, "max-batch", 0, fmt.Sprintf("most entries in one batch; a larger one gets one -32600 reply (default %d)", jsonrpc.DefaultMaxBatch))
	fs.IntVar(&s.MaxMessage, "max-message", 0, fmt.Sprintf("largest message in bytes; a larger one gets a -32600 reply and the stream closes (default %d)", jsonrpc.DefaultMaxMessage))
	fs.DurationVar(&s.IdleTimeout, "idle-timeout", 0, fmt.Sprintf("close a stream that sends no message for this long (default %v; negative: never)", jsonrpc.DefaultIdleTimeout))
	startMemDebug := memDebugFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	startMemDebug(stdout)
	if err := registerRPCMethods(&s); err != nil {
		return err
	}
	if *loops <= 0 {
		*loops = runtime.GOMAXPROCS(0)
	}
	loop.ReserveProcs(*loops)
	g, err := loop.NewGroup(*loops, loop.Config{Port: port.Config{Backend: *backend}})
	if err != nil {
		return err
	}
	ln, err := flow.Listen(context.Background(), g, "tcp", *addr)
	if err != nil {
		g.Close()
		return err
	}
	bound, stop := acceptEach(ln, func(c net.Conn) {
		fc := c.(*flow.Conn)
		flow.Go(fc.Loop(), func(f *flow.Flow) {
			defer fc.Close()
			s.ServeConn(f.Context(), fc)
		})
	})
	fmt.Fprintf(stdout, "rpc: JSON-RPC 2.0 over TCP (one message per line) on %s, %d loops, %s backend, pid %d\n",
		bound, len(g.Loops()), g.Loops()[0].Backend(), os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stop()
	return g.Close()
}

// registerRPCMethods registers what cport rpc serves.
func registerRPCMethods(s *jsonrpc.Server) error {
	return errors.Join(
		s.Register("echo", func(_ context.Context, params any) (any, error) { return params, nil }),
		s.Register("add", func(_ context.Context, xs []float64) (float64, error) {
			var sum float64
			for _, x := range xs {
				sum += x
			}
			return sum, nil
		}),
	)
}
