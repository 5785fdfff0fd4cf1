package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"github.com/cport/cport/transport"
)

func runBench(args []string, stdout io.Writer) error {
	const usage = "usage: cport bench echo|http|models|slowreaders|hostile [flags]; cport bench NAME -h lists a benchmark's flags"
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "echo":
		return runBenchEcho(args[1:], stdout)
	case "http":
		return runBenchHTTP(args[1:], stdout)
	case "models":
		return runBenchModels(args[1:], stdout)
	case "slowreaders":
		return runBenchSlowReaders(args[1:], stdout)
	case "hostile":
		return runBenchHostile(args[1:], stdout)
	}
	return fmt.Errorf("unknown benchmark %q (have: echo, http, models, slowreaders, hostile)", args[0])
}

// benchEchoConfig is one run of the echo load generator.
type benchEchoConfig struct {
	addr      string
	conns     int
	size      int
	duration  time.Duration
	warmup    time.Duration
	rate      int // messages per second over all connections; 0: ping-pong flat out
	idle      int
	burst     int // like idle, but all connections echo at the same moment
	idleWarm  int // connections warming the server before an idle run; 0: idleBaseline
	serverPID int
	loops     int
	backend   string
}

func runBenchEcho(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench echo", flag.ContinueOnError)
	var cfg benchEchoConfig
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7000", "echo server address")
	fs.IntVar(&cfg.conns, "conns", 100, "connections doing ping-pong")
	fs.IntVar(&cfg.size, "size", 64, "message size in bytes")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "ping-pong before measuring starts")
	fs.IntVar(&cfg.rate, "rate", 0, "messages per second over all connections, each sending at its share of the rate (0: each sends again as soon as its echo is back)")
	fs.IntVar(&cfg.idle, "idle", 0, "instead of ping-pong: open this many connections, echo once on each, hold them and report the server's RSS per connection")
	fs.IntVar(&cfg.burst, "burst", 0, "instead of ping-pong: open this many connections, wait until the server holds them all, have every one echo once at the same moment, hold them and report the server's RSS per connection")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "the server's pid, to report its CPU per message and RSS per connection")
	fs.IntVar(&cfg.loops, "loops", 1, "client event loops")
	fs.StringVar(&cfg.backend, "backend", "", "client backend: uring or epoll")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.size <= 0 || cfg.conns < 0 || cfg.idle < 0 || cfg.burst < 0 || cfg.rate < 0 {
		return errors.New("--size must be positive, --conns, --idle, --burst and --rate not negative")
	}
	if cfg.idle > 0 && cfg.burst > 0 {
		return errors.New("--idle and --burst are two ways to measure idle connections: give one")
	}
	// No batch wait: a load generator's own waiting would be part of the
	// round trips it measures, and would change the load it offers.
	g, err := loop.NewGroup(cfg.loops, loop.Config{Port: port.Config{Backend: cfg.backend, BatchWait: -1}})
	if err != nil {
		return err
	}
	defer g.Close()
	if cfg.idle > 0 {
		return benchIdle(g, cfg, stdout)
	}
	if cfg.burst > 0 {
		return measureIdle(g, echoBurstRun(g, cfg), stdout)
	}
	return benchPingPong(g, cfg, stdout)
}

// Phases of a run; pingers count and time messages only while measuring.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// loopStats is what the pingers of one client loop measured; only that
// loop's goroutine writes it.
type loopStats struct {
	msgs int64
	lats []int64 // round-trip times in nanoseconds, measured phase only
}

// pinger sends a message, waits for all of it to come back, and repeats:
// at once, or with an interval, one interval after the last send (at
// once if the echo took longer).
type pinger struct {
	transport.BaseProtocol
	t        transport.Transport
	payload  []byte
	got      int
	sentAt   time.Time
	interval time.Duration
	sendFn   func() // p.send, bound once for the loop's timers
	stats    *loopStats
	phase    *atomic.Int32
	once     bool // stop after the first echo (idle mode)
	echoed   chan<- error
	first    chan<- struct{} // told of the first echo, if not nil
	lost     chan<- error
}

func (p *pinger) ConnectionMade(t transport.Transport) {
	p.t = t
	if p.interval <= 0 {
		p.send()
		return
	}
	// Spread the first sends over an interval, so the connections do not
	// send in step.
	p.sendFn = p.send
	t.Loop().CallLater(rand.N(p.interval), p.sendFn)
}

// next sends the next message when its interval is up.
func (p *pinger) next() {
	if p.interval > 0 {
		if d := time.Until(p.sentAt.Add(p.interval)); d > 0 {
			p.t.Loop().CallLater(d, p.sendFn)
			return
		}
	}
	p.send()
}

func (p *pinger) send() {
	p.sentAt = time.Now()
	p.t.Write(p.payload)
}

func (p *pinger) DataReceived(data []byte) {
	p.got += len(data)
	for p.got >= len(p.payload) {
		p.got -= len(p.payload)
		if p.first != nil {
			p.first <- struct{}{}
			p.first = nil
		}
		if p.once {
			p.echoed <- nil
			return
		}
		switch p.phase.Load() {
		case phaseMeasure:
			p.stats.msgs++
			p.stats.lats = append(p.stats.lats, int64(time.Since(p.sentAt)))
		case phaseStop:
			return
		}
		p.next()
	}
}

func (p *pinger) ConnectionLost(err error) {
	if err != nil && p.lost != nil && p.phase.Load() != phaseStop {
		select {
		case p.lost <- err:
		default:
		}
	}
}

// dialAll opens n connections spread over the group's loops, at most 256
// dials in flight, and returns when all are connected. mk makes the
// protocol of a connection on the group's loop number li.
func dialAll(g *loop.Group, addr string, n int, mk func(li int) transport.Protocol) error {
	loops := g.Loops()
	sem := make(chan struct{}, 256)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		li := i % len(loops)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		transport.DialAsync(ctx, loops[li], "tcp", addr, mk(li), func(t transport.Transport, err error) {
			cancel()
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
			<-sem
			wg.Done()
		})
		select {
		case err := <-errc:
			wg.Wait()
			return err
		default:
		}
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// pingResult is what one ping-pong run measured.
type pingResult struct {
	msgs    int64
	elapsed time.Duration
	lats    []int64       // sorted round-trip times in nanoseconds
	cpu     time.Duration // the server's CPU over the measured phase
	loadCPU time.Duration // this process\'s own CPU over it; -1: unknown
}

// pingPong dials cfg.conns connections that ping-pong cfg.size-byte
// messages for cfg.duration after cfg.warmup; cpu, read at both ends of
// the measured phase, is the server's CPU time so far.
func pingPong(g *loop.Group, cfg benchEchoConfig, cpu func() (time.Duration, error)) (pingResult, error) {
	payload := make([]byte, cfg.size)
	for i := range payload {
		payload[i] = byte(i)
	}
	var phase atomic.Int32
	// Stop the pingers whatever happens, so a failed run leaves no traffic
	// behind for the caller's next measurement.
	defer phase.Store(phaseStop)
	lost := make(chan error, 1)
	stats := make([]*loopStats, len(g.Loops()))
	for i := range stats {
		stats[i] = &loopStats{}
	}
	first := make(chan struct{}, cfg.conns)
	var interval time.Duration
	if cfg.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(cfg.conns) / float64(cfg.rate))
	}
	err := dialAll(g, cfg.addr, cfg.conns, func(li int) transport.Protocol {
		return &pinger{payload: payload, interval: interval, stats: stats[li], phase: &phase, lost: lost, first: first}
	})
	if err != nil {
		return pingResult{}, fmt.Errorf("connecting: %w", err)
	}
	// The warm-up starts once every connection is served: a server that
	// starts a worker per connection may take a while to answer the last.
	for i := 0; i < cfg.conns; i++ {
		select {
		case <-first:
		case err := <-lost:
			return pingResult{}, fmt.Errorf("a connection was lost: %w", err)
		case <-time.After(30 * time.Second):
			return pingResult{}, fmt.Errorf("only %d of %d connections echoed within 30s", i, cfg.conns)
		}
	}
	time.Sleep(cfg.warmup)
	cpu0, err := cpu()
	if err != nil {
		return pingResult{}, err
	}
	self0, selfErr := serverCPU(os.Getpid())
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
	if self1, err := serverCPU(os.Getpid()); err == nil && selfErr == nil {
		r.loadCPU = self1 - self0
	}
	// Collect each loop's figures on its own goroutine.
	for i, l := range g.Loops() {
		st := stats[i]
		got := make(chan struct{})
		l.Post(func() {
			r.msgs += st.msgs
			r.lats = append(r.lats, st.lats...)
			close(got)
		})
		<-got
	}
	slices.Sort(r.lats)
	return r, nil
}

// serverStartWait is how long the bench waits for a server that refuses
// connections: one started in the background on the line before (as
// README's recipe does) may not be listening yet.
const serverStartWait = 5 * time.Second

// awaitServer returns once addr accepts a connection, retrying for up to
// serverStartWait. (Any dial error is retried: a refusal is spelled
// differently on each platform, and one that is not a refusal fails the
// same way when the wait is over.)
func awaitServer(addr string) error {
	deadline := time.Now().Add(serverStartWait)
	for {
		c, err := net.DialTimeout("tcp", addr, serverStartWait)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func benchPingPong(g *loop.Group, cfg benchEchoConfig, stdout io.Writer) error {
	if err := awaitServer(cfg.addr); err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	r, err := pingPong(g, cfg, func() (time.Duration, error) { return serverCPU(cfg.serverPID) })
	if err != nil {
		return err
	}
	rate := float64(r.msgs) / r.elapsed.Seconds()
	p50, p99 := percentile(r.lats, 0.50), percentile(r.lats, 0.99)
	fmt.Fprintf(stdout, "echo %s: %d conns × %d B for %v: %.0f msgs/s, p50 %.1f µs, p99 %.1f µs\n",
		cfg.addr, cfg.conns, cfg.size, r.elapsed.Round(time.Millisecond), rate, p50, p99)
	result := fmt.Sprintf("RESULT msgs_per_sec=%.0f p50_us=%.1f p99_us=%.1f", rate, p50, p99)
	if cfg.serverPID > 0 && r.msgs > 0 && r.cpu == 0 {
		// A process that used no CPU while messages were echoed is not the
		// server: typically the pid of `go run`, whose child serves.
		fmt.Fprintln(stdout, result)
		return fmt.Errorf("pid %d used no CPU while %d messages were echoed: it is not the server (with `go run ... &`, $! is go run's pid; build the server and run the binary)", cfg.serverPID, r.msgs)
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

// percentile of sorted nanosecond samples, in microseconds.
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i]) / 1e3
}

func benchIdle(g *loop.Group, cfg benchEchoConfig, stdout io.Writer) error {
	return measureIdle(g, echoIdleRun(g, cfg), stdout)
}

// echoIdleRun is the idle measurement of an echo server: ping-pong on
// cfg.idleWarm connections (idleBaseline if zero) warms it, then each
// measured connection echoes once.
func echoIdleRun(g *loop.Group, cfg benchEchoConfig) idleRun {
	payload := make([]byte, cfg.size)
	phase := new(atomic.Int32)
	stats := make([]*loopStats, len(g.Loops()))
	for i := range stats {
		stats[i] = &loopStats{}
	}
	warmConns := cfg.idleWarm
	if warmConns <= 0 {
		warmConns = idleBaseline
	}
	// Warm the server with ping-pong on a few connections, then let them idle.
	warm := func() error {
		err := dialAll(g, cfg.addr, warmConns, func(li int) transport.Protocol {
			return &pinger{payload: payload, stats: stats[li], phase: phase}
		})
		time.Sleep(cfg.warmup)
		phase.Store(phaseStop)
		return err
	}
	once := func(_ int, done chan<- error) transport.Protocol {
		return &pinger{payload: payload, phase: phase, once: true, echoed: done}
	}
	return idleRun{what: "echoed once", addr: cfg.addr, n: cfg.idle, serverPID: cfg.serverPID, warm: warm, once: once}
}
