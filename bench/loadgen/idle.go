package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// idleBaseline is how many connections ping-pong before the server's
// memory is first read, as in cport bench echo: the server's fixed costs
// (buffer pools, the runtime's first heap arenas) are then in the
// baseline, and what the measured connections add is theirs alone.
const idleBaseline = 50

// runIdle measures what held connections cost the server: --idle opens
// them one after another, each echoing once as it opens; --burst opens
// them all, waits until the server holds them all, then has every one
// echo at the same moment. Either way they are then held, silent, while
// the server's memory is read.
func runIdle(cfg config, stdout io.Writer) error {
	if cfg.serverPID <= 0 {
		return errors.New("--idle and --burst need --server-pid to read the server's memory")
	}
	n, what := cfg.idle, "echoed once, one after another,"
	if cfg.burst > 0 {
		n, what = cfg.burst, "echoed once all at the same moment"
	}
	payload := make([]byte, cfg.size)
	for i := range payload {
		payload[i] = byte(i)
	}

	// Warm the server with ping-pong on a few connections, closed again
	// before its memory is first read.
	warm := cfg
	warm.conns, warm.duration, warm.rate, warm.connRate = idleBaseline, time.Millisecond, 0, 0
	if _, err := pingPong(warm, func() (time.Duration, error) { return 0, nil }); err != nil {
		return fmt.Errorf("warming the server: %w", err)
	}
	time.Sleep(200 * time.Millisecond)
	m0, err := processMem(cfg.serverPID)
	if err != nil {
		return err
	}
	fds0, fdErr := processFDs(cfg.serverPID)

	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	// On an early return the goroutines waiting at the gate end too: their
	// connections are closed, so their echoes fail at once.
	defer release()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if cfg.idle > 0 {
		release() // each connection echoes as soon as it is open
	}
	errs := make(chan error, n)
	var last atomic.Int64 // when the last echo came back, in ns since released
	var released time.Time
	var wg sync.WaitGroup
	for i := range n {
		c, err := net.DialTimeout("tcp", cfg.addr, 10*time.Second)
		if err != nil {
			return fmt.Errorf("connecting %d of %d: %w", i+1, n, err)
		}
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			err := echoOnce(c, payload)
			for d := int64(time.Since(released)); ; {
				if prev := last.Load(); prev >= d || last.CompareAndSwap(prev, d) {
					break
				}
			}
			errs <- err
		}()
	}
	if cfg.burst > 0 {
		// The burst is simultaneous only if the server has accepted every
		// connection before the first byte: wait until it holds them all.
		if fdErr == nil {
			if err := awaitFDs(cfg.serverPID, fds0+n, 30*time.Second); err != nil {
				return err
			}
		} else {
			time.Sleep(time.Second) // no fd count to watch: give it time instead
		}
		released = time.Now()
		release()
	}
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case err := <-errs:
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
		case <-timeout:
			return fmt.Errorf("only %d of %d connections echoed within 30s", i, n)
		}
	}
	wg.Wait()
	m1, err := settledMem(cfg.serverPID)
	if err != nil {
		return err
	}

	rss := float64(m1.rss-m0.rss) / float64(n)
	fmt.Fprintf(stdout, "idle: %d connections %s and held; server RSS %d → %d KiB: %.0f bytes per connection\n",
		n, what, m0.rss>>10, m1.rss>>10, rss)
	result := fmt.Sprintf("RESULT rss_bytes_per_conn=%.0f", rss)
	if m0.pss > 0 && m1.pss > 0 {
		pss := float64(m1.pss-m0.pss) / float64(n)
		fmt.Fprintf(stdout, "server Pss %d → %d KiB: %.0f bytes per connection\n", m0.pss>>10, m1.pss>>10, pss)
		result += fmt.Sprintf(" pss_bytes_per_conn=%.0f", pss)
	}
	if cfg.burst > 0 {
		burst := time.Duration(last.Load())
		fmt.Fprintf(stdout, "burst: the last echo came back %v after the release\n", burst.Round(time.Microsecond))
		result += fmt.Sprintf(" burst_ms=%.1f", float64(burst)/float64(time.Millisecond))
	}
	fmt.Fprintln(stdout, result)
	time.Sleep(cfg.hold)
	return nil
}

// echoOnce sends payload on c and reads it back.
func echoOnce(c net.Conn, payload []byte) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(payload); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, len(payload)))
	return err
}

// awaitFDs waits until process pid has at least want descriptors open.
func awaitFDs(pid, want int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		n, err := processFDs(pid)
		if err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server holds %d descriptors after %v, want %d: it has not accepted every connection", n, within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settledMem reads the server's memory once it has settled after the
// echoes: a server may give back what a burst took a moment after it,
// when it next finds itself idle (cport's epoll backend trims its buffer
// pool at most once a second), and what it holds then is what an idle
// connection costs. It waits at least 500 ms, then until the RSS has not
// fallen for a second, at most 5 s.
func settledMem(pid int) (procMem, error) {
	time.Sleep(500 * time.Millisecond)
	m, err := processMem(pid)
	if err != nil {
		return m, err
	}
	steady := 0
	for deadline := time.Now().Add(5 * time.Second); steady < 4 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		next, err := processMem(pid)
		if err != nil {
			return m, err
		}
		if next.rss < m.rss {
			steady = 0
		} else {
			steady++
		}
		m = next
	}
	return m, nil
}
