package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every model serves echo byte for byte under a tiny run of the bench, and
// every figure comes out positive; the chart names every model. Only the
// shape of the results is checked, never their size: the machine is shared.
func TestBenchModelsRunsEveryModel(t *testing.T) {
	quickRaceExit(t)
	fds0 := openFDs(t)
	svg := filepath.Join(t.TempDir(), "models.svg")
	cfg, err := parseModelsFlags([]string{"--conns", "4", "--duration", "300ms", "--warmup", "50ms",
		"--idle", "8", "--switches", "2000", "--server-cpu", "0", "--load-cpu", "-1", "--svg", svg})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rounds, err := benchModels(cfg, &out)
	if err != nil {
		t.Fatalf("bench models: %v\n%s", err, out.String())
	}
	if len(rounds) != 1 || len(rounds[0]) != len(serverModels) {
		t.Fatalf("got %d rounds of %v, want 1 round of %d models", len(rounds), rounds, len(serverModels))
	}
	for i, r := range rounds[0] {
		if r.model != serverModels[i] {
			t.Errorf("result %d is for %q, want %q", i, r.model, serverModels[i])
		}
		if r.echoed <= 0 {
			t.Errorf("%s: no bytes checked through the server", r.model)
		}
		// Pss per connection is a difference of two readings and may, for
		// the lightest models and few connections, round to nothing; the
		// memory figure is checked on the models that hold a stack or more.
		// CPU time comes from /proc in clock ticks (10 ms): a 300 ms run
		// of a light model on a loaded machine may well use less than one,
		// so it may read zero; never less.
		if r.msgsPerS <= 0 || r.cpuUS < 0 || r.switchNS <= 0 {
			t.Errorf("%s: figures not all positive: %+v", r.model, r)
		}
		if (r.model == "process" || r.model == "thread") && r.pss <= 0 {
			t.Errorf("%s: Pss per idle connection %v, want positive", r.model, r.pss)
		}
	}

	// The table and the chart, from the same results.
	var table bytes.Buffer
	results := medianResults(cfg.models, rounds)
	writeModelsTable(&table, cfg, results)
	for _, m := range serverModels {
		line := resultLine(table.String(), m)
		if line == nil {
			t.Errorf("no RESULT line for %s in\n%s", m, table.String())
			continue
		}
		for _, k := range []string{"msgs", "cpu_us", "switch_ns"} {
			v, err := strconv.ParseFloat(line[k], 64)
			if err != nil || v < 0 || v == 0 && k != "cpu_us" {
				t.Errorf("RESULT for %s: %s=%q, want a positive number", m, k, line[k])
			}
		}
	}
	f, err := os.Create(svg)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeModelsSVG(f, cfg, results); err != nil {
		t.Fatal(err)
	}
	f.Close()
	doc, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	texts := checkSVG(t, doc)
	for _, m := range serverModels {
		if !strings.Contains(texts, m) {
			t.Errorf("the chart does not mention %s", m)
		}
	}
	// The load's connections and the switches' pipes are all closed.
	if fds1 := openFDs(t); fds1 > fds0+5 {
		t.Errorf("open fds went from %d to %d", fds0, fds1)
	}
}

// The command end to end: flags, the run, the table and the SVG file.
func TestBenchModelsCommandWritesSVG(t *testing.T) {
	quickRaceExit(t)
	svg := filepath.Join(t.TempDir(), "m.svg")
	var out bytes.Buffer
	err := runBench([]string{"models", "--models", "goroutine,flow", "--conns", "2", "--duration", "100ms",
		"--warmup", "10ms", "--idle", "5", "--switches", "100", "--load-cpu", "-1", "--server-cpu", "-1", "--svg", svg}, &out)
	if err != nil {
		t.Fatalf("bench models: %v\n%s", err, out.String())
	}
	for _, m := range []string{"goroutine", "flow"} {
		if resultLine(out.String(), m) == nil {
			t.Errorf("no RESULT line for %s in\n%s", m, out.String())
		}
	}
	doc, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, doc)
}

// resultLine finds the RESULT line of a model and splits its key=value pairs.
func resultLine(out, model string) map[string]string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "RESULT" || f[1] != "model="+model {
			continue
		}
		kv := map[string]string{}
		for _, p := range f[1:] {
			k, v, _ := strings.Cut(p, "=")
			kv[k] = v
		}
		return kv
	}
	return nil
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// quickRaceExit spares the bench's child processes, this test binary
// re-executed, the race detector's default second of sleep at exit: the
// bench waits for each server it stops.
func quickRaceExit(t *testing.T) {
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}
