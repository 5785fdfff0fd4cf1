// Command loadgen is an echo load generator on Go's net package alone: a
// second opinion beside `cport bench echo`, which is built on cport and so
// cannot rule out that cport's client side shapes the figures it reports.
//
// Each connection is one goroutine doing ping-pong: Write a message, then
// io.ReadFull the same number of bytes, and again, flat out or paced.
// With --server-pid it reads the server's CPU time (utime+stime in
// /proc/PID/stat) at both ends of the measured window, and its RSS for
// --idle and --burst. Its last line has the same form and keys as
// `cport bench echo`'s, so bench/run.sh reads both alike:
//
//	RESULT msgs_per_sec=… p50_us=… p99_us=… cpu_us_per_msg=… load_cpu_pct=…
//	RESULT rss_bytes_per_conn=… pss_bytes_per_conn=…   (--idle, --burst)
//
// Modes:
//
//	loadgen --addr A --conns 100 --size 64 --duration 10s [--rate R | --conn-rate r]
//	loadgen --addr A --idle 9000 --server-pid P    connections opened and echoed once, one after another
//	loadgen --addr A --burst 9000 --server-pid P   connections opened, then all echo at the same moment
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// config is one run.
type config struct {
	addr      string
	conns     int
	size      int
	duration  time.Duration
	warmup    time.Duration
	rate      float64 // messages per second over all connections; 0: unpaced
	connRate  float64 // messages per second per connection; 0: unpaced
	idle      int
	burst     int
	serverPID int
	hold      time.Duration // after --idle or --burst: keep the connections open this long
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7000", "echo server address")
	fs.IntVar(&cfg.conns, "conns", 100, "connections doing ping-pong, a goroutine each")
	fs.IntVar(&cfg.size, "size", 64, "message size in bytes")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "ping-pong before measuring starts")
	fs.Float64Var(&cfg.rate, "rate", 0, "messages per second over all connections, each sending at its share (as cport bench echo --rate); 0: flat out")
	fs.Float64Var(&cfg.connRate, "conn-rate", 0, "messages per second per connection; 0: flat out (not with --rate)")
	fs.IntVar(&cfg.idle, "idle", 0, "instead of ping-pong: open this many connections one after another, echo once on each, hold them and report the server's RSS per connection")
	fs.IntVar(&cfg.burst, "burst", 0, "instead of ping-pong: open this many connections, then have all of them echo once at the same moment, hold them and report the server's RSS per connection")
	fs.DurationVar(&cfg.hold, "hold", 0, "after --idle or --burst has reported, keep the connections open this long, to inspect the server while it holds them")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "the server's pid, for its CPU per message and RSS per connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.size <= 0:
		return errors.New("--size must be positive")
	case cfg.conns < 0 || cfg.idle < 0 || cfg.burst < 0:
		return errors.New("--conns, --idle and --burst must not be negative")
	case cfg.rate < 0 || cfg.connRate < 0:
		return errors.New("--rate and --conn-rate must not be negative")
	case cfg.rate > 0 && cfg.connRate > 0:
		return errors.New("--rate and --conn-rate are two ways to pace: give one")
	case cfg.idle > 0 && cfg.burst > 0:
		return errors.New("--idle and --burst are two modes: give one")
	case cfg.duration <= 0 && cfg.idle == 0 && cfg.burst == 0:
		return errors.New("--duration must be positive")
	}
	if cfg.idle > 0 || cfg.burst > 0 {
		return runIdle(cfg, stdout)
	}
	if cfg.conns == 0 {
		return errors.New("--conns must be positive for ping-pong")
	}
	return runPingPong(cfg, stdout)
}
