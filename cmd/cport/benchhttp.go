package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"github.com/cport/cport/transport"
)

// httpWarmRounds is how many requests each warm-up connection sends, one
// after another, before the server's memory is first read.
const httpWarmRounds = 10

func runBenchHTTP(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench http", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP server address")
	path := fs.String("path", "/plaintext", "path each connection GETs")
	idle := fs.Int("idle", 0, "open this many connections, GET once on each with keep-alive, hold them and report the server's RSS per connection")
	serverPID := fs.Int("server-pid", 0, "the server's pid, to read its memory")
	loops := fs.Int("loops", 1, "client event loops")
	backend := fs.String("backend", "", "client backend: uring or epoll")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *idle <= 0 {
		return errors.New("bench http measures idle connections: give --idle N (for throughput, use wrk: bench/http.sh)")
	}
	// No batch wait: a load generator's own waiting would be part of the
	// round trips it measures, and would change the load it offers.
	g, err := loop.NewGroup(*loops, loop.Config{Port: port.Config{Backend: *backend, BatchWait: -1}})
	if err != nil {
		return err
	}
	defer g.Close()
	req := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *addr + "\r\n\r\n")
	warm := func() error {
		done := make(chan error, idleBaseline)
		err := dialAll(g, *addr, idleBaseline, func(int) transport.Protocol {
			return &httpProbe{req: req, rounds: httpWarmRounds, done: done}
		})
		if err != nil {
			return err
		}
		for range idleBaseline {
			if err := <-done; err != nil {
				return err
			}
		}
		return nil
	}
	once := func(_ int, done chan<- error) transport.Protocol {
		return &httpProbe{req: req, rounds: 1, done: done}
	}
	return measureIdle(g, idleRun{what: "served one keep-alive GET " + *path, addr: *addr, n: *idle,
		serverPID: *serverPID, warm: warm, once: once}, stdout)
}

// httpProbe sends GETs one at a time on a keep-alive connection, reads
// each whole response, and reports on done after the last one (or at the
// first failure). It then holds the connection open.
type httpProbe struct {
	transport.BaseProtocol
	t        transport.Transport
	req      []byte
	rounds   int
	buf      []byte
	done     chan<- error
	reported bool
}

func (p *httpProbe) ConnectionMade(t transport.Transport) {
	p.t = t
	_ = t.Write(p.req)
}

func (p *httpProbe) DataReceived(data []byte) {
	if p.reported {
		return
	}
	p.buf = append(p.buf, data...)
	n, err := responseLen(p.buf)
	if err != nil {
		p.report(err)
		return
	}
	if n == 0 || len(p.buf) < n {
		return
	}
	if len(p.buf) > n {
		p.report(errors.New("bytes past the response"))
		return
	}
	p.buf = p.buf[:0]
	if p.rounds--; p.rounds > 0 {
		_ = p.t.Write(p.req)
		return
	}
	p.buf = nil
	p.report(nil)
}

func (p *httpProbe) ConnectionLost(err error) {
	if err == nil {
		err = errors.New("closed by the server")
	}
	p.report(err)
}

func (p *httpProbe) report(err error) {
	if !p.reported {
		p.reported = true
		p.done <- err
	}
}

// responseLen is the length of the response at the start of b, once its
// head is complete; 0 while it is not. Only a 200 with a Content-Length
// will do: that is what the idle measurement expects of the server.
func responseLen(b []byte) (int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, nil
	}
	head := b[:end+2]
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) {
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return 0, fmt.Errorf("response %q, want HTTP/1.1 200", line)
	}
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Content-Length")) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
			return end + 4 + n, nil
		}
	}
	return 0, errors.New("response without Content-Length")
}
