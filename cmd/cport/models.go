package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// serverModels are the ways `cport bench models` serves the same echo, in
// the order of the seed's argument: from the heaviest flow of control per
// connection to the lightest.
var serverModels = []string{"process", "thread", "goroutine", "callback", "flow"}

// modelsConfig is one run of `cport bench models`.
type modelsConfig struct {
	models    []string
	conns     int
	size      int
	duration  time.Duration
	warmup    time.Duration
	idle      int
	switches  int
	rounds    int
	serverCPU int // -1: do not pin
	loadCPU   int
	svg       string
}

// modelResult is what one model measured in one round.
type modelResult struct {
	model    string
	msgsPerS float64
	cpuUS    float64 // server CPU per message, µs, over the server's process tree
	pss      float64 // bytes of Pss per idle connection
	switchNS float64 // one round trip between two flows of control of the model's kind
	echoed   int64   // bytes checked byte for byte through the server before the run
}

func parseModelsFlags(args []string) (modelsConfig, error) {
	fs := flag.NewFlagSet("bench models", flag.ContinueOnError)
	var cfg modelsConfig
	models := fs.String("models", strings.Join(serverModels, ","), "comma-separated subset of "+strings.Join(serverModels, ","))
	fs.IntVar(&cfg.conns, "conns", 100, "connections doing ping-pong")
	fs.IntVar(&cfg.size, "size", 64, "message size in bytes")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long to measure ping-pong per model")
	fs.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "ping-pong before measuring starts")
	fs.IntVar(&cfg.idle, "idle", 5000, "idle connections held to measure memory per connection (the process model: at most 1000)")
	fs.IntVar(&cfg.switches, "switches", 200_000, "round trips timed for the switch cost")
	fs.IntVar(&cfg.rounds, "rounds", 1, "interleaved rounds over the models; figures are medians")
	fs.IntVar(&cfg.serverCPU, "server-cpu", 0, "CPU the servers are pinned to (-1: none)")
	fs.IntVar(&cfg.loadCPU, "load-cpu", 1, "CPU the load generator and switch timings are pinned to (-1: none)")
	fs.StringVar(&cfg.svg, "svg", "", "also draw the table as a bar chart into this SVG file")
	fs.SetOutput(io.Discard) // errors come back to the caller, once
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, m := range strings.Split(*models, ",") {
		m = strings.TrimSpace(m)
		if !slices.Contains(serverModels, m) {
			return cfg, fmt.Errorf("--models: unknown model %q (have: %s)", m, strings.Join(serverModels, ","))
		}
		if !slices.Contains(cfg.models, m) {
			cfg.models = append(cfg.models, m)
		}
	}
	switch {
	case cfg.conns <= 0:
		return cfg, fmt.Errorf("--conns %d: want at least 1", cfg.conns)
	case cfg.size <= 0:
		return cfg, fmt.Errorf("--size %d: want at least 1 byte", cfg.size)
	case cfg.duration <= 0:
		return cfg, fmt.Errorf("--duration %v: want a positive duration", cfg.duration)
	case cfg.warmup < 0:
		return cfg, fmt.Errorf("--warmup %v: want a duration of zero or more", cfg.warmup)
	case cfg.idle <= 0:
		return cfg, fmt.Errorf("--idle %d: want at least 1", cfg.idle)
	case cfg.switches <= 0:
		return cfg, fmt.Errorf("--switches %d: want at least 1", cfg.switches)
	case cfg.rounds <= 0:
		return cfg, fmt.Errorf("--rounds %d: want at least 1", cfg.rounds)
	case cfg.serverCPU < -1 || cfg.loadCPU < -1:
		return cfg, errors.New("--server-cpu and --load-cpu: want a CPU number, or -1 for none")
	}
	return cfg, nil
}

func runBenchModels(args []string, stdout io.Writer) error {
	cfg, err := parseModelsFlags(args)
	if err != nil {
		return err
	}
	rounds, err := benchModels(cfg, stdout)
	if err != nil {
		return err
	}
	results := medianResults(cfg.models, rounds)
	fmt.Fprintln(stdout)
	writeModelsTable(stdout, cfg, results)
	if cfg.svg != "" {
		f, err := os.Create(cfg.svg)
		if err != nil {
			return err
		}
		err = writeModelsSVG(f, cfg, results)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--svg: %w", err)
		}
	}
	return nil
}

// medianResults takes each model's median of every figure over the rounds.
func medianResults(models []string, rounds [][]modelResult) []modelResult {
	out := make([]modelResult, 0, len(models))
	for i, m := range models {
		var per []modelResult
		for _, r := range rounds {
			per = append(per, r[i])
		}
		med := func(get func(modelResult) float64) float64 {
			v := make([]float64, len(per))
			for j, r := range per {
				v[j] = get(r)
			}
			slices.Sort(v)
			if len(v)%2 == 1 {
				return v[len(v)/2]
			}
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		var echoed int64
		for _, r := range per {
			echoed += r.echoed
		}
		out = append(out, modelResult{
			model:    m,
			msgsPerS: med(func(r modelResult) float64 { return r.msgsPerS }),
			cpuUS:    med(func(r modelResult) float64 { return r.cpuUS }),
			pss:      med(func(r modelResult) float64 { return r.pss }),
			switchNS: med(func(r modelResult) float64 { return r.switchNS }),
			echoed:   echoed,
		})
	}
	return out
}

// flowResult finds the flow model's figures, the baseline of the ratios.
func flowResult(results []modelResult) (modelResult, bool) {
	for _, r := range results {
		if r.model == "flow" {
			return r, true
		}
	}
	return modelResult{}, false
}

// ratio formats a/b with two significant digits or so, or "-" where it
// means nothing.
func ratio(a, b float64) string {
	if b <= 0 || a <= 0 {
		return "-"
	}
	switch r := a / b; {
	case r >= 10:
		return fmt.Sprintf("×%.0f", r)
	case r >= 1:
		return fmt.Sprintf("×%.1f", r)
	default:
		return fmt.Sprintf("×%.2f", r)
	}
}

func writeModelsTable(w io.Writer, cfg modelsConfig, results []modelResult) {
	fmt.Fprintf(w, "echo served five ways: %d conns × %d B ping-pong for %v; %d idle conns (process: at most 1000); %d switch round trips; median of %d round(s)\n",
		cfg.conns, cfg.size, cfg.duration, cfg.idle, cfg.switches, cfg.rounds)
	fmt.Fprintln(w, "cpu: utime+stime of the server and all its child processes; pss: Pss from /proc/PID/smaps_rollup summed over the same processes")
	base, haveFlow := flowResult(results)
	fmt.Fprintf(w, "%-10s %10s %11s", "model", "msgs/s", "cpu_us/msg")
	if haveFlow {
		fmt.Fprintf(w, " %7s", "vs_flow")
	}
	fmt.Fprintf(w, " %16s", "pss_B/idle_conn")
	if haveFlow {
		fmt.Fprintf(w, " %7s", "vs_flow")
	}
	fmt.Fprintf(w, " %10s\n", "switch_ns")
	for _, r := range results {
		fmt.Fprintf(w, "%-10s %10.0f %11.2f", r.model, r.msgsPerS, r.cpuUS)
		if haveFlow {
			fmt.Fprintf(w, " %7s", ratio(r.cpuUS, base.cpuUS))
		}
		fmt.Fprintf(w, " %16.0f", r.pss)
		if haveFlow {
			fmt.Fprintf(w, " %7s", ratio(r.pss, base.pss))
		}
		fmt.Fprintf(w, " %10.0f\n", r.switchNS)
	}
	for _, r := range results {
		fmt.Fprintf(w, "RESULT model=%s msgs=%.0f cpu_us=%.3f pss=%.0f switch_ns=%.0f\n",
			r.model, r.msgsPerS, r.cpuUS, r.pss, r.switchNS)
	}
}
