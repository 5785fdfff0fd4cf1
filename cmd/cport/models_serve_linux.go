package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/loop"
)

// runServeModel is the hidden `cport serve-model`: one model's echo
// server, run by `cport bench models` as its own process so that its CPU
// and memory can be read from /proc apart from the load's. It prints the
// address it listens on, then serves until its stdin closes.
func runServeModel(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve-model", flag.ContinueOnError)
	model := fs.String("model", "", "one of the models of bench models")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bound, stop, err := serveModel(*model, *addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, bound)
	io.Copy(io.Discard, os.Stdin)
	stop()
	return nil
}

// serveModel starts the model's echo server; stop closes the listener and
// ends what the server started.
func serveModel(model, addr string) (net.Addr, func(), error) {
	switch model {
	case "callback", "flow":
		// One loop: the server is pinned to one core anyway.
		loop.ReserveProcs(1) // as cport echo does
		g, bound, stop, err := serveEcho(echoConfig{addr: addr, loops: 1, balance: "reuseport", style: model})
		if err != nil {
			return nil, nil, err
		}
		// The loop is not closed: the process exits next, and a loop's
		// orderly close waits out its connections' cancellations.
		_ = g
		return bound, stop, nil
	case "goroutine":
		return serveNet(addr, func(c net.Conn) { go echoGoroutine(c) })
	case "thread":
		return serveNet(addr, func(c net.Conn) {
			f, err := detach(c)
			if err == nil {
				go echoThread(f)
			}
		})
	case "process":
		return serveProcesses(addr)
	}
	return nil, nil, fmt.Errorf("--model %q: want one of %v", model, serverModels)
}

// serveNet accepts with Go's net and hands each connection to serve.
func serveNet(addr string, serve func(net.Conn)) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	bound, stop := acceptEach(ln, serve)
	return bound, stop, nil
}

// modelBuffer is the read buffer of the models that block in read: a
// blocked read holds its buffer, so it is kept small (large messages take
// a few reads). Callbacks and flows hold none while idle: the transport
// reads into the loop's provided buffers and a flow reads with Next.
const modelBuffer = echoFlowBuffer

// echoGoroutine is a goroutine per connection over Go's netpoller.
func echoGoroutine(c net.Conn) {
	defer c.Close()
	buf := make([]byte, modelBuffer)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// detach takes a connection's socket out of Go's netpoller: a dup of it in
// blocking mode, the original closed.
func detach(c net.Conn) (*os.File, error) {
	defer c.Close()
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		return nil, err
	}
	// The dup shares the open file description, whose O_NONBLOCK the
	// netpoller set; clear it so reads block in the kernel.
	if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// echoThread holds an OS thread for the connection's life: the goroutine
// stays locked to it and blocks it in read(2), and since it never unlocks,
// the runtime ends the thread with the connection.
func echoThread(f *os.File) {
	runtime.LockOSThread()
	defer f.Close()
	blockingEcho(int(f.Fd()))
}

// blockingEcho echoes on a blocking socket until EOF or an error: the
// thread- and process-per-connection servers' whole body.
func blockingEcho(fd int) {
	buf := make([]byte, modelBuffer)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n <= 0 || err != nil {
			return
		}
		for off := 0; off < n; {
			m, err := unix.Write(fd, buf[off:n])
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			off += m
		}
	}
}

// serveProcesses accepts in this process and starts a `cport model-conn`
// process per connection, the socket passed as its fd 3.
func serveProcesses(addr string) (net.Addr, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	kids := map[*os.Process]bool{}
	var wg sync.WaitGroup
	bound, closeLn, err := serveNet(addr, func(c net.Conn) {
		f, err := detach(c)
		if err != nil {
			return
		}
		defer f.Close() // the child has its own copy
		cmd := exec.Command(exe, "model-conn")
		cmd.ExtraFiles = []*os.File{f}
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "serve-model process: %v\n", err)
			return
		}
		mu.Lock()
		kids[cmd.Process] = true
		mu.Unlock()
		wg.Add(1)
		// Reaping each child as it exits moves its CPU time into this
		// process's cutime/cstime, where the benchmark still counts it.
		go func() {
			defer wg.Done()
			cmd.Wait()
			mu.Lock()
			delete(kids, cmd.Process)
			mu.Unlock()
		}()
	})
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		closeLn()
		mu.Lock()
		for p := range kids {
			p.Kill()
		}
		mu.Unlock()
		wg.Wait()
	}
	return bound, stop, nil
}

// runModelConn is the hidden `cport model-conn`: the process-per-connection
// server's worker, echoing on the socket it inherited as fd 3.
func runModelConn(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	const fd = 3
	if err := unix.SetNonblock(fd, false); err != nil {
		return fmt.Errorf("fd 3: %w", err)
	}
	blockingEcho(fd)
	return unix.Close(fd)
}
