package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/cport/cport/loop"
)

// benchModels runs every model once per round, the rounds interleaved so
// that a machine's slow spell is shared among the models, not suffered by
// one of them.
func benchModels(cfg modelsConfig, stdout io.Writer) ([][]modelResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if n := runtime.NumCPU(); cfg.serverCPU >= n || cfg.loadCPU >= n {
		fmt.Fprintf(stdout, "this machine has %d CPUs: not pinning the servers and the load\n", n)
		cfg.serverCPU, cfg.loadCPU = -1, -1
	}
	if cfg.loadCPU >= 0 {
		if err := pinProcess(cfg.loadCPU); err != nil {
			return nil, fmt.Errorf("pinning the load to CPU %d: %w", cfg.loadCPU, err)
		}
	}
	var rounds [][]modelResult
	for round := 1; round <= cfg.rounds; round++ {
		var results []modelResult
		for _, m := range cfg.models {
			r, err := measureModel(exe, m, cfg)
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", m, err)
			}
			fmt.Fprintf(stdout, "round %d %-10s %9.0f msgs/s %7.2f µs CPU/msg %8.0f B Pss/idle conn %8.0f ns/switch\n",
				round, m, r.msgsPerS, r.cpuUS, r.pss, r.switchNS)
			results = append(results, r)
		}
		rounds = append(rounds, results)
	}
	return rounds, nil
}

// measureModel serves echo the model's way twice, each time on a fresh
// server: once under ping-pong load for throughput and CPU, once holding
// idle connections for memory; then it times the model's switch.
func measureModel(exe, model string, cfg modelsConfig) (modelResult, error) {
	r := modelResult{model: model}
	srv, err := startModelServer(exe, model, cfg.serverCPU)
	if err != nil {
		return r, err
	}
	if r.echoed, err = checkEcho(srv.addr); err != nil {
		srv.stop()
		return r, err
	}
	ping := withClients(func(g *loop.Group) (pingResult, error) {
		return pingPong(g, benchEchoConfig{addr: srv.addr, conns: cfg.conns, size: cfg.size,
			duration: cfg.duration, warmup: cfg.warmup},
			func() (time.Duration, error) { return treeCPU(srv.pid) })
	})
	if err := srv.stop(); err != nil && ping.err == nil {
		ping.err = err
	}
	if ping.err != nil {
		return r, fmt.Errorf("ping-pong: %w", ping.err)
	}
	if ping.v.msgs == 0 {
		return r, fmt.Errorf("ping-pong: no message came back in %v", cfg.duration)
	}
	r.msgsPerS = float64(ping.v.msgs) / ping.v.elapsed.Seconds()
	r.cpuUS = float64(ping.v.cpu) / float64(time.Microsecond) / float64(ping.v.msgs)

	if srv, err = startModelServer(exe, model, cfg.serverCPU); err != nil {
		return r, err
	}
	idle := cfg.idle
	if model == "process" {
		idle = min(idle, maxIdleProcesses)
	}
	mem := withClients(func(g *loop.Group) ([2]int64, error) {
		// A few connections warm the server first, so its fixed costs
		// (buffer pools, the first heap arenas) are not charged to the
		// idle connections.
		run := echoIdleRun(g, benchEchoConfig{addr: srv.addr, size: cfg.size, idle: idle,
			idleWarm: min(idleBaseline/5, idle), warmup: cfg.warmup})
		run.mem = func() (procMem, error) {
			pss, err := treePss(srv.pid)
			return procMem{pss: pss}, err
		}
		before, after, err := idleCost(g, run)
		return [2]int64{before.pss, after.pss}, err
	})
	if err := srv.stop(); err != nil && mem.err == nil {
		mem.err = err
	}
	if mem.err != nil {
		return r, fmt.Errorf("idle connections: %w", mem.err)
	}
	r.pss = float64(mem.v[1]-mem.v[0]) / float64(idle)

	sw, err := switchCost(exe, model, cfg.switches)
	if err != nil {
		return r, fmt.Errorf("switch cost: %w", err)
	}
	r.switchNS = float64(sw.Nanoseconds()) / float64(cfg.switches)
	return r, nil
}

// result pairs a value with the error that came with it.
type result[T any] struct {
	v   T
	err error
}

// withClients runs fn with a fresh one-loop client group and closes the
// group, and with it every client connection, before it returns.
func withClients[T any](fn func(g *loop.Group) (T, error)) result[T] {
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		return result[T]{err: err}
	}
	v, err := fn(g)
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	return result[T]{v, err}
}

// modelServer is a `cport serve-model` child process.
type modelServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	pid   int
}

// startModelServer starts a server of the model pinned to cpu (-1: not
// pinned) and waits for the address it listens on.
func startModelServer(exe, model string, cpu int) (*modelServer, error) {
	cmd := exec.Command(exe, "serve-model", "--model", model, "--addr", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	// An orphaned server would hold its port and CPU after a failed run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startPinned(cmd, cpu); err != nil {
		return nil, err
	}
	s := &modelServer{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case s.addr = <-line:
	case <-time.After(30 * time.Second):
	}
	if s.addr == "" {
		s.stop()
		return nil, fmt.Errorf("the %s server did not say where it listens", model)
	}
	return s, nil
}

// stop closes the server's stdin, which tells it to exit, and reaps it.
func (s *modelServer) stop() error {
	s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
		return fmt.Errorf("server pid %d did not exit when asked; killed", s.pid)
	}
}

// checkEcho sends a patterned message through the server and compares
// what comes back byte for byte: a model that answers the ping-pong's
// byte counts with the wrong bytes must not get figures.
func checkEcho(addr string) (int64, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := make([]byte, 64<<10)
	for i := range msg {
		msg[i] = byte(i*7 + i>>8)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return 0, fmt.Errorf("echo check: %w", err)
	}
	if err := <-werr; err != nil {
		return 0, fmt.Errorf("echo check: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return 0, fmt.Errorf("echo check: %d bytes came back different", len(msg))
	}
	return int64(len(msg)), nil
}

// maxIdleProcesses caps the process model's idle connections: each is a
// process of about a megabyte, where the other models' connections cost
// kilobytes and need thousands to rise above the runtime's noise.
const maxIdleProcesses = 1000
