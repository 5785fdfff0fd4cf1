package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Phases of a run: connections count and time messages only while
// measuring, and stop at the first message after it.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// connStats is what one connection measured; only its goroutine writes it
// until the run is over.
type connStats struct {
	msgs int64
	lats []int64 // round-trip times in nanoseconds, measured phase only
}

// pingResult is what one ping-pong run measured.
type pingResult struct {
	msgs    int64
	elapsed time.Duration
	lats    []int64       // sorted, nanoseconds
	cpu     time.Duration // the server's CPU over the measured window
	loadCPU time.Duration // this process\'s own CPU over it; -1: unknown
}

// pingConn ping-pongs on c until the phase is phaseStop: Write the
// payload, io.ReadFull as many bytes back, and again after interval (at
// once if zero). It reports the first echo on first.
func pingConn(c net.Conn, payload []byte, interval time.Duration, phase *atomic.Int32, st *connStats, first chan<- struct{}) error {
	buf := make([]byte, len(payload))
	if interval > 0 {
		// Spread the first sends over an interval, so the connections do
		// not send in step.
		time.Sleep(rand.N(interval))
	}
	for n := 0; ; n++ {
		sent := time.Now()
		if _, err := c.Write(payload); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if n == 0 {
			first <- struct{}{}
		}
		switch phase.Load() {
		case phaseMeasure:
			st.msgs++
			st.lats = append(st.lats, int64(time.Since(sent)))
		case phaseStop:
			return nil
		}
		if interval > 0 {
			if d := time.Until(sent.Add(interval)); d > 0 {
				time.Sleep(d)
			}
		}
	}
}

// pingPong runs cfg's ping-pong; cpu, read at both ends of the measured
// window, is the server's CPU time so far.
func pingPong(cfg config, cpu func() (time.Duration, error)) (pingResult, error) {
	payload := make([]byte, cfg.size)
	for i := range payload {
		payload[i] = byte(i)
	}
	var interval time.Duration
	switch {
	case cfg.rate > 0:
		interval = time.Duration(float64(time.Second) * float64(cfg.conns) / cfg.rate)
	case cfg.connRate > 0:
		interval = time.Duration(float64(time.Second) / cfg.connRate)
	}
	var phase atomic.Int32
	stats := make([]connStats, cfg.conns)
	conns := make([]net.Conn, cfg.conns)
	first := make(chan struct{}, cfg.conns)
	lost := make(chan error, 1)
	var wg sync.WaitGroup
	// However the run ends, stop the connections and wait for their
	// goroutines, so nothing writes stats or sends traffic afterwards.
	defer func() {
		phase.Store(phaseStop)
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		wg.Wait()
	}()

	// One dial at a time: on loopback each takes tens of microseconds,
	// and the server's accept backlog never overflows.
	for i := range cfg.conns {
		c, err := net.DialTimeout("tcp", cfg.addr, 10*time.Second)
		if err != nil {
			return pingResult{}, fmt.Errorf("connecting %d of %d: %w", i+1, cfg.conns, err)
		}
		conns[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pingConn(c, payload, interval, &phase, &stats[i], first)
			if err != nil && phase.Load() != phaseStop {
				select {
				case lost <- err:
				default:
				}
			}
		}()
	}
	// The warm-up starts once every connection is served: a server that
	// starts a worker per connection may take a while to answer the last.
	timeout := time.After(30 * time.Second)
	for i := range cfg.conns {
		select {
		case <-first:
		case err := <-lost:
			return pingResult{}, fmt.Errorf("a connection was lost: %w", err)
		case <-timeout:
			return pingResult{}, fmt.Errorf("only %d of %d connections echoed within 30s", i, cfg.conns)
		}
	}
	time.Sleep(cfg.warmup)
	cpu0, err := cpu()
	if err != nil {
		return pingResult{}, err
	}
	self0, selfErr := processCPU(os.Getpid())
	start := time.Now()
	phase.Store(phaseMeasure)
	select {
	case err := <-lost:
		return pingResult{}, fmt.Errorf("a connection was lost: %w", err)
	case <-time.After(cfg.duration):
	}
	phase.Store(phaseStop)
	r := pingResult{elapsed: time.Since(start)}
	cpu1, err := cpu()
	if err != nil {
		return pingResult{}, err
	}
	r.cpu = cpu1 - cpu0
	r.loadCPU = -1
	if self1, err := processCPU(os.Getpid()); err == nil && selfErr == nil {
		r.loadCPU = self1 - self0
	}
	// Messages still in flight end their goroutines' loops; closing the
	// connections ends those whose echo never comes.
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	for i := range stats {
		r.msgs += stats[i].msgs
		r.lats = append(r.lats, stats[i].lats...)
	}
	slices.Sort(r.lats)
	return r, nil
}

func runPingPong(cfg config, stdout io.Writer) error {
	r, err := pingPong(cfg, func() (time.Duration, error) { return processCPU(cfg.serverPID) })
	if err != nil {
		return err
	}
	rate := float64(r.msgs) / r.elapsed.Seconds()
	p50, p99 := percentile(r.lats, 0.50), percentile(r.lats, 0.99)
	fmt.Fprintf(stdout, "echo %s (Go net client): %d conns × %d B for %v: %.0f msgs/s, p50 %.1f µs, p99 %.1f µs\n",
		cfg.addr, cfg.conns, cfg.size, r.elapsed.Round(time.Millisecond), rate, p50, p99)
	result := fmt.Sprintf("RESULT msgs_per_sec=%.0f p50_us=%.1f p99_us=%.1f", rate, p50, p99)
	if cfg.serverPID > 0 && r.msgs > 0 && r.cpu == 0 {
		// A process that used no CPU while messages were echoed is not
		// the server: typically the pid of `go run`, whose child serves.
		fmt.Fprintln(stdout, result)
		return errNotServer(cfg.serverPID, r.msgs)
	}
	if cfg.serverPID > 0 && r.msgs > 0 {
		cpuPerMsg := float64(r.cpu) / float64(time.Microsecond) / float64(r.msgs)
		fmt.Fprintf(stdout, "server pid %d: %.2f µs CPU per message\n", cfg.serverPID, cpuPerMsg)
		result += fmt.Sprintf(" cpu_us_per_msg=%.3f", cpuPerMsg)
	}
	if r.loadCPU >= 0 {
		// Near 100 (of the one core it is pinned to), the load generator
		// is what limits msgs/s, not the server.
		result += fmt.Sprintf(" load_cpu_pct=%.0f", 100*r.loadCPU.Seconds()/r.elapsed.Seconds())
	}
	fmt.Fprintln(stdout, result)
	return nil
}

// errNotServer is the error for a --server-pid that used no CPU while the
// server echoed msgs messages.
func errNotServer(pid int, msgs int64) error {
	return fmt.Errorf("pid %d used no CPU while %d messages were echoed: it is not the server (with `go run ... &`, $! is go run's pid; build the server and run the binary)", pid, msgs)
}

// percentile of sorted nanosecond samples, in microseconds.
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1))]) / 1e3
}
