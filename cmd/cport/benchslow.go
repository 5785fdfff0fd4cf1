package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// runBenchSlowReaders is `cport bench slowreaders`: clients that write
// without reading for a while, then half-close and read everything back.
// It asks two things of an echo server: that every byte comes back (no
// clean end of stream after a truncation), and how much memory the server
// spends on peers that do not read. The clients are plain Go net, not
// cport, so the load is independent of the server under test.
func runBenchSlowReaders(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench slowreaders", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7000", "echo server address")
	conns := fs.Int("conns", 8, "clients, all at once")
	duration := fs.Duration("duration", 5*time.Second, "how long each client writes before it half-closes")
	chunk := fs.Int("chunk", 64<<10, "bytes per write")
	serverPID := fs.Int("server-pid", 0, "the server's pid, to report its RSS growth (peak while the clients run, sampled every 20 ms)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns <= 0 || *chunk <= 0 || *duration <= 0 {
		return errors.New("--conns, --chunk and --duration must be positive")
	}
	var base procMem
	if *serverPID > 0 {
		m, err := serverMem(*serverPID)
		if err != nil {
			return err
		}
		base = m
	}
	peak := base.rss
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		if *serverPID <= 0 {
			return
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if m, err := serverMem(*serverPID); err == nil && m.rss > peak {
					peak = m.rss
				}
			}
		}
	}()

	type outcome struct {
		sent, got int64
		err       error
	}
	results := make([]outcome, *conns)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].sent, results[i].got, results[i].err = slowReader(*addr, *chunk, *duration)
		}()
	}
	wg.Wait()
	close(stopSampling)
	<-sampled

	var sent, got int64
	var failures []string
	for i, r := range results {
		sent += r.sent
		got += r.got
		if r.err != nil {
			failures = append(failures, fmt.Sprintf("client %d: %v", i, r.err))
		}
	}
	for _, f := range failures {
		fmt.Fprintln(stdout, f)
	}
	fmt.Fprintf(stdout, "%d clients sent %d MB, got %d MB back", *conns, sent>>20, got>>20)
	growth := int64(-1)
	if *serverPID > 0 {
		growth = peak - base.rss
		fmt.Fprintf(stdout, "; server RSS grew by %d MB at most", growth>>20)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "RESULT sent_bytes=%d received_bytes=%d lost_bytes=%d failed_clients=%d server_rss_growth_bytes=%d\n",
		sent, got, sent-got, len(failures), growth)
	if len(failures) > 0 || got != sent {
		return fmt.Errorf("%d bytes of %d did not come back", sent-got, sent)
	}
	return nil
}

// slowReader is one client: it writes a numbered pattern for d without
// reading (each write bounded, so a server that stops reading stops the
// client too), half-closes, and reads to the end, checking every byte. A
// clean end of stream before all of it is an error, as is any wrong byte.
func slowReader(addr string, chunk int, d time.Duration) (sent, got int64, err error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	buf := make([]byte, chunk)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		fillPattern(buf, sent)
		c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		n, werr := c.Write(buf)
		sent += int64(n)
		var ne net.Error
		if werr != nil && !(errors.As(werr, &ne) && ne.Timeout()) {
			return sent, 0, fmt.Errorf("write: %w", werr)
		}
	}
	c.SetWriteDeadline(time.Time{})
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return sent, 0, err
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	want := make([]byte, 64<<10)
	rbuf := make([]byte, 64<<10)
	for {
		n, rerr := c.Read(rbuf)
		if n > 0 {
			fillPattern(want[:n], got)
			if !bytes.Equal(rbuf[:n], want[:n]) {
				return sent, got, fmt.Errorf("byte %d onwards differs from what was sent", got)
			}
			got += int64(n)
		}
		if rerr == io.EOF {
			if got != sent {
				return sent, got, fmt.Errorf("a clean end of stream after %d of %d bytes: a silent truncation", got, sent)
			}
			return sent, got, nil
		}
		if rerr != nil {
			return sent, got, fmt.Errorf("read after %d of %d bytes: %w", got, sent, rerr)
		}
	}
}

// fillPattern fills b with the stream's bytes from offset off on: each
// byte is its offset modulo 251, so a lost, repeated or reordered piece
// shows.
func fillPattern(b []byte, off int64) {
	for i := range b {
		b[i] = byte((off + int64(i)) % 251)
	}
}
