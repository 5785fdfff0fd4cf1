// Command cport runs cport's servers, examples and benchmarks.
//
//	cport seed-accept --addr HOST:PORT   the seed article's completion-port accept
//	cport echo --addr HOST:PORT          an echo server on transports
//	cport bench echo --addr HOST:PORT    a ping-pong load generator built on cport
//	cport bench http --idle N --server-pid PID   an HTTP server's RSS per idle keep-alive connection
//	cport bench models                   echo served by process, thread, goroutine, callback, flow
//	cport bench slowreaders --server-pid PID   clients that write without reading: data back, server RSS
//	cport bench hostile --kind K --peers N     peers that stall, pipeline or stay silent: when closed, RSS, others' latency
//	cport version                        which backends this machine offers
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name, summary string
	run           func(args []string, stdout io.Writer) error
	// hidden commands are the parts of a benchmark that it runs as child
	// processes; usage does not list them.
	hidden bool
}

var commands = []command{
	{"seed-accept", "accept one connection the completion-port way (the seed's example)", runSeedAccept, false},
	{"echo", "serve echo on transports", runEcho, false},
	{"http", "serve HTTP/1.1: /plaintext, /json, /echo (--handler native|nethttp|stdlib)", runHTTP, false},
	{"rpc", "serve JSON-RPC 2.0 over TCP, one message per line: echo, add", runRPC, false},
	{"bench", "benchmarks: bench echo (a load generator), bench http --idle, bench models (echo served five ways), bench slowreaders (clients that do not read, then half-close), bench hostile (misbehaving peers)", runBench, false},
	{"version", "print the backends this machine offers", runVersion, false},
	{"serve-model", "one model's echo server, for bench models", runServeModel, true},
	{"model-conn", "the process-per-connection model's worker, for bench models", runModelConn, true},
	{"model-switch", "the far end of the process switch, for bench models", runModelSwitch, true},
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	name := os.Args[1]
	for _, c := range commands {
		if c.name == name {
			err := c.run(os.Args[2:], os.Stdout)
			switch {
			case errors.Is(err, flag.ErrHelp):
				return // -h asked for the flags, which the flag set printed
			case err != nil:
				fmt.Fprintf(os.Stderr, "cport %s: %v\n", name, err)
				os.Exit(1)
			}
			return
		}
	}
	if name == "help" || name == "-h" || name == "--help" {
		usage(os.Stdout)
		return
	}
	fmt.Fprintf(os.Stderr, "cport: unknown command %q\n", name)
	usage(os.Stderr)
	os.Exit(2)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cport COMMAND [flags]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintln(w, "Run 'cport COMMAND -h' for a command's flags.")
}
