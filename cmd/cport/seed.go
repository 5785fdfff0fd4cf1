package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"time"

	"github.com/cport/cport/port"
)

// runSeedAccept is the seed article's Python server in Go: one key mapped
// to onAccepted, one accept started with it, a poll with a one-second
// timeout that says so each time nothing has completed, and the look-up
// that calls back.
func runSeedAccept(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed-accept", flag.ContinueOnError)
	addrFlag := fs.String("addr", "127.0.0.1:8000", "address to listen on (HOST:PORT)")
	backend := fs.String("backend", "", "uring or epoll on Linux, iocp on Windows (default: CPORT_BACKEND, else the best available)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return seedAccept(*addrFlag, *backend, stdout, nil)
}

// seedAccept serves one accept on addr; listening, if set, is told the
// bound address once the socket listens.
func seedAccept(addr, backend string, stdout io.Writer, listening func(string)) error {
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, err := port.Open(port.Config{Backend: backend})
	if err != nil {
		return err
	}
	defer p.Close()
	lfd, err := port.ListenTCP(tcp.AddrPort())
	if err != nil {
		return err
	}
	defer closeFD(lfd)
	bound, err := port.LocalAddr(lfd)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s (%s backend)\n", bound, p.Backend())
	if listening != nil {
		listening(bound.String())
	}

	callbackMap := map[port.Key]func(port.Completion) error{}
	done := false
	onAccepted := func(c port.Completion) error {
		done = true
		if err := c.Err(); err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		defer closeFD(int(c.Res))
		peer, err := port.PeerAddr(int(c.Res))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "connected from %s\n", peer)
		return nil
	}

	// 1. Create a key and map it to the callback.
	key, err := p.Register()
	if err != nil {
		return err
	}
	callbackMap[key] = onAccepted
	// 2. Start the accept, naming the key.
	if err := p.Submit(key, port.Accept(lfd)); err != nil {
		return err
	}
	events := make([]port.Completion, 16)
	for !done {
		// 3. Poll for completed keys, one second at a time.
		n, err := p.Wait(events, time.Second)
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintln(stdout, "nothing completed yet; polling again")
			continue
		}
		// 4. Look each key up and call its callback.
		for _, c := range events[:n] {
			if err := callbackMap[c.Key](c); err != nil {
				return err
			}
		}
	}
	return nil
}

func runVersion(args []string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "cport on %s/%s\n", runtime.GOOS, runtime.GOARCH)
	names := []string{"uring", "epoll"}
	if runtime.GOOS == "windows" {
		names = []string{"iocp"} // the only backend there
	}
	for _, name := range names {
		runtime.LockOSThread()
		p, err := port.Open(port.Config{Backend: name})
		if err != nil {
			fmt.Fprintf(stdout, "  %-6s unavailable: %v\n", name, err)
		} else {
			fmt.Fprintf(stdout, "  %-6s available\n", name)
			p.Close()
		}
		runtime.UnlockOSThread()
	}
	// The default honours CPORT_BACKEND: a name it does not know, or a
	// backend this machine lacks, is an error here as in every command.
	def, err := port.Open(port.Config{})
	if err != nil {
		return fmt.Errorf("default backend: %w", err)
	}
	fmt.Fprintf(stdout, "default backend: %s\n", def.Backend())
	def.Close()
	return nil
}
