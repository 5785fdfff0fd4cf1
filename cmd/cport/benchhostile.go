package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hostileKinds is what `cport bench hostile` can do to a server: each
// opens a connection and misbehaves in one way, then waits for the server
// to close it.
var hostileKinds = map[string]string{
	"slowbody": "HTTP: POST /echo with Content-Length 1000, 10 bytes of body, then nothing",
	"pipeline": "HTTP: pipelines GET requests and never reads a response",
	"silent":   "any: connects and sends nothing (a TLS server waits for its ClientHello)",
	"rpcbatch": "JSON-RPC over a stream: a 1 MB batch [1,1,...], then reads the reply",
}

// runBenchHostile is `cport bench hostile`: N peers of one kind at once
// against a running server, while a normal HTTP client keeps making
// requests. It reports when the server closed the peers, the server's RSS
// per held peer, and the normal client's latency before and during.
func runBenchHostile(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench hostile", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "server address")
	kind := fs.String("kind", "slowbody", "what the peers do: "+strings.Join(slices.Sorted(maps.Keys(hostileKinds)), ", "))
	peers := fs.Int("peers", 1000, "hostile peers, all at once")
	wait := fs.Duration("wait", 90*time.Second, "how long to wait for the server to close them")
	normal := fs.String("normal", "", "a URL path served normally (say /plaintext) to time a well-behaved HTTP client on before and during; empty: none")
	serverPID := fs.Int("server-pid", 0, "the server's pid, for its RSS per held peer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, ok := hostileKinds[*kind]; !ok {
		return fmt.Errorf("--kind %q: want one of %s", *kind, strings.Join(slices.Sorted(maps.Keys(hostileKinds)), ", "))
	}
	if *peers <= 0 {
		return errors.New("--peers must be positive")
	}
	var before []time.Duration
	if *normal != "" {
		var err error
		if before, err = timeRequests(*addr, *normal, 200); err != nil {
			return fmt.Errorf("the normal client, before: %w", err)
		}
	}
	var base procMem
	var baseCPU time.Duration
	if *serverPID > 0 {
		base, _ = serverMem(*serverPID)
		baseCPU, _ = serverCPU(*serverPID)
	}

	start := time.Now()
	var closed, stalled atomic.Int64
	var lastClose atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *peers)
	for i := 0; i < *peers; i++ {
		c, err := net.DialTimeout("tcp", *addr, 10*time.Second)
		if err != nil {
			return fmt.Errorf("peer %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			if err := misbehave(c, *kind); err != nil {
				errs <- err
				return
			}
			if waitClosed(c, *kind, start.Add(*wait)) {
				closed.Add(1)
				stalled.Add(1) // a closed peer is decided: the server held it
				lastClose.Store(int64(time.Since(start)))
				return
			}
			// Still open: held by the server, unless it read every request
			// this peer sent (a pipelining peer whose answers all fit the
			// kernel's buffers is served as a fast client would be).
			if n, known := unsentBytes(c); *kind != "pipeline" || !known || n > 0 {
				stalled.Add(1)
			}
		}()
	}
	held := time.Since(start)
	time.Sleep(min(*wait/4, 2*time.Second))
	var rssPerPeer int64 = -1
	if *serverPID > 0 {
		// A process that used no CPU while it took the peers' connections
		// is not the server: its RSS would say nothing of them.
		if cpu, err := serverCPU(*serverPID); err == nil && cpu == baseCPU {
			return fmt.Errorf("pid %d used no CPU while %d peers connected: it is not the server (with `go run ... &`, $! is go run's pid; build the server and run the binary)", *serverPID, *peers)
		}
		if m, err := serverMem(*serverPID); err == nil {
			rssPerPeer = (m.rss - base.rss) / int64(*peers)
		}
	}
	var during []time.Duration
	if *normal != "" {
		var err error
		if during, err = timeRequests(*addr, *normal, 200); err != nil {
			return fmt.Errorf("the normal client, during: %w", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Fprintf(stdout, "%d %s peers (%s), opened in %v: %d closed by the server, the last after %v\n",
		*peers, *kind, hostileKinds[*kind], held.Round(time.Millisecond), closed.Load(), time.Duration(lastClose.Load()).Round(time.Millisecond))
	if *kind == "pipeline" {
		// A peer whose every request the server read and answered into
		// the kernel's buffers is not held: the server serves it as it
		// would a fast client, and it ends at the idle timeout. The
		// stalled ones (closed, or still with requests the server has not
		// read) are those the send timeout must end; every closed peer is
		// one of them.
		fmt.Fprintf(stdout, "%d stalled (closed, or with requests the server had not read at the end); %d open with every request read, served as fast clients\n",
			stalled.Load(), int64(*peers)-stalled.Load())
	}
	if rssPerPeer >= 0 {
		fmt.Fprintf(stdout, "server RSS while they were held: %d B per peer\n", rssPerPeer)
	}
	if len(before) > 0 {
		fmt.Fprintf(stdout, "normal client p50/p99: %v/%v before, %v/%v during\n",
			pct(before, 50), pct(before, 99), pct(during, 50), pct(during, 99))
	}
	fmt.Fprintf(stdout, "RESULT peers=%d closed=%d last_close_ms=%d stalled=%d rss_bytes_per_peer=%d normal_p50_us_before=%d normal_p50_us_during=%d normal_p99_us_before=%d normal_p99_us_during=%d\n",
		*peers, closed.Load(), time.Duration(lastClose.Load()).Milliseconds(), stalled.Load(), rssPerPeer,
		pct(before, 50).Microseconds(), pct(during, 50).Microseconds(), pct(before, 99).Microseconds(), pct(during, 99).Microseconds())
	return nil
}

// waitClosed waits until the server closes c or the deadline passes, and
// reports which. A peer that must not read (pipeline) learns of the close
// from a write that fails: it sends a blank line, which HTTP allows
// between requests, every 100 ms.
func waitClosed(c net.Conn, kind string, deadline time.Time) bool {
	if kind == "pipeline" {
		for time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			_, err := io.WriteString(c, "\r\n")
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				return true
			}
		}
		return false
	}
	c.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// misbehave does kind's part on c.
func misbehave(c net.Conn, kind string) error {
	var err error
	switch kind {
	case "slowbody":
		_, err = io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
	case "pipeline":
		req := strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 64)
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		for i := 0; i < 3000 && err == nil; i++ { // up to 192,000 requests, until the server stops reading
			_, err = io.WriteString(c, req)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = nil // the server stopped reading: as it should
		}
		c.SetWriteDeadline(time.Time{})
		if err != nil && !errors.Is(err, net.ErrClosed) {
			err = nil // reset by the server while writing: it closed us
		}
	case "silent":
	case "rpcbatch":
		_, err = io.WriteString(c, "["+strings.Repeat("1,", 500_000)+"1]\n")
	}
	return err
}

// timeRequests makes n keep-alive GETs of path and returns their times.
func timeRequests(addr, path string, n int) ([]time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(c)
	out := make([]time.Duration, 0, n)
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"
	for range n {
		t0 := time.Now()
		if _, err := io.WriteString(c, req); err != nil {
			return nil, err
		}
		if err := readHTTPResponse(br); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// readHTTPResponse reads one response with a Content-Length body.
func readHTTPResponse(br *bufio.Reader) error {
	n := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			fmt.Sscan(strings.TrimSpace(v), &n)
		}
	}
	if n < 0 {
		return errors.New("a response without Content-Length")
	}
	_, err := io.CopyN(io.Discard, br, int64(n))
	return err
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
