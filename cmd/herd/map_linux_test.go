package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/herd/runner"
)

// jobWatch wraps herd map's connector and records, per host, the jobs
// running at each moment and how each run ended.
type jobWatch struct {
	runner.Connector

	mu      sync.Mutex
	running map[string]int // jobs in Run on each host now
	peak    map[string]int
	ran     map[string]int      // runs per host, ended
	lost    map[string][]string // commands whose run failed with an error, per host
	okOn    map[string][]string // command -> hosts where it ran to an exit status
	onEnd   func(w *jobWatch)   // after each run, with mu held
}

// watchMap installs a jobWatch for the test's herd map runs.
func watchMap(t *testing.T) *jobWatch {
	w := &jobWatch{running: map[string]int{}, peak: map[string]int{}, ran: map[string]int{},
		lost: map[string][]string{}, okOn: map[string][]string{}}
	mapConnectorHook = func(c runner.Connector) runner.Connector { w.Connector = c; return w }
	t.Cleanup(func() { mapConnectorHook = nil })
	return w
}

// Turn passes on the wrapped connector's turns, so that the watched runs
// connect as unwatched ones do.
func (w *jobWatch) Turn(ctx context.Context) (context.Context, func(), error) {
	if q, ok := w.Connector.(runner.Queued); ok {
		return q.Turn(ctx)
	}
	return ctx, func() {}, nil
}

func (w *jobWatch) Connect(ctx context.Context, host string) (runner.Session, error) {
	s, err := w.Connector.Connect(ctx, host)
	if err != nil {
		return nil, err
	}
	return &watchedSession{Session: s, w: w, host: host}, nil
}

type watchedSession struct {
	runner.Session
	w    *jobWatch
	host string
}

func (s *watchedSession) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	w := s.w
	w.mu.Lock()
	w.running[s.host]++
	w.peak[s.host] = max(w.peak[s.host], w.running[s.host])
	w.mu.Unlock()
	exit, err := s.Session.Run(ctx, cmd, stdout, stderr)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running[s.host]--
	w.ran[s.host]++
	if err != nil {
		w.lost[s.host] = append(w.lost[s.host], cmd)
	} else {
		w.okOn[cmd] = append(w.okOn[cmd], s.host)
	}
	if w.onEnd != nil {
		w.onEnd(w)
	}
	return exit, err
}

// mapArgs is herd map's command line on the lab's agents.
func (lb *agentLab) mapArgs(args ...string) []string {
	return append(append([]string{"map"}, lb.flags()...), append([]string{"--connect-timeout", "20s", "--retries", "0"}, args...)...)
}

// lines makes stdin of items 1 to n, one a line.
func lines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

// 1,000 jobs over 10 hosts: no host ever runs more than --slots jobs at
// once, every host takes work, the slots are used, and every job runs
// once.
func TestMapSlotsAcrossHosts(t *testing.T) {
	lb := newAgentLabN(t, 10)
	w := watchMap(t)
	const jobs, slots = 1000, 3
	code, out, errOut := herd(t, lines(jobs), lb.mapArgs("--slots", fmt.Sprint(slots), lb.expr, "--", "echo item {}")...)
	if code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
	}
	for i := 1; i <= jobs; i++ {
		if n := strings.Count(out, fmt.Sprintf("item %d\n", i)); n != 1 {
			t.Errorf("item %d printed %d times", i, n)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	total, overlapped := 0, false
	for _, h := range lb.hosts {
		if w.peak[h] > slots {
			t.Errorf("%s ran %d jobs at once, more than its %d slots", h, w.peak[h], slots)
		}
		if w.ran[h] == 0 {
			t.Errorf("%s ran no job", h)
		}
		overlapped = overlapped || w.peak[h] > 1
		total += w.ran[h]
	}
	if total != jobs || !overlapped {
		t.Errorf("%d runs for %d jobs; peaks %v: want each job once, and some host using more than one slot", total, jobs, w.peak)
	}
}

// A host whose agent dies mid-run takes no more jobs; the jobs it was
// running finish on other hosts, and the run succeeds.
func TestMapHostKilledMidRun(t *testing.T) {
	lb := newAgentLabN(t, 5)
	w := watchMap(t)
	victim := lb.hosts[1]
	var once sync.Once
	killed := make(chan struct{})
	w.onEnd = func(w *jobWatch) {
		// Once the run is under way and the victim has a job running.
		if w.ran[victim] >= 2 && w.running[victim] > 0 {
			once.Do(func() {
				go func() { lb.kill(victim); close(killed) }()
			})
		}
	}
	const jobs = 100
	code, out, errOut := herd(t, lines(jobs), lb.mapArgs("--slots", "2", lb.expr, "--", "sleep 0.05; echo item {}")...)
	select {
	case <-killed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the victim was never killed: its agent is still up; exit %d, stderr:\n%s", code, errOut)
	}
	if code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, victim+" failed, took no more jobs") ||
		!strings.Contains(errOut, fmt.Sprintf("%d jobs: %d ok, 0 failed, 0 not run; 1 of 5 hosts failed: %s", jobs, jobs, victim)) {
		t.Errorf("stderr:\n%s", errOut)
	}
	for i := 1; i <= jobs; i++ {
		if n := strings.Count(out, fmt.Sprintf("item %d\n", i)); n != 1 {
			t.Errorf("item %d printed %d times", i, n)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.lost[victim]) == 0 {
		t.Fatalf("no job was cut short on %s", victim)
	}
	for _, cmd := range w.lost[victim] {
		hosts := w.okOn[cmd]
		if len(hosts) != 1 || hosts[0] == victim {
			t.Errorf("job %q, cut short on %s, then ran to its end on %v; want once, on another host", cmd, victim, hosts)
		}
	}
}

// --resume runs only the jobs the job log does not show done: those that
// failed, those missing from it, and those whose command changed.
func TestMapResume(t *testing.T) {
	lb := newAgentLabN(t, 3)
	dir := t.TempDir()
	joblog, ran, block := filepath.Join(dir, "jobs.log"), filepath.Join(dir, "ran"), filepath.Join(dir, "block")
	if err := os.Mkdir(block, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{4, 9} { // these fail the first time
		os.WriteFile(filepath.Join(block, fmt.Sprint(i)), nil, 0o644)
	}
	cmd := fmt.Sprintf("echo {} >> %s; test ! -e %s/{}", ran, block)
	mapRun := func(stdin string, extra ...string) (int, string) {
		t.Helper()
		os.Remove(ran)
		code, _, errOut := herd(t, stdin, lb.mapArgs(append(extra, "--slots", "2", "--joblog", joblog, lb.expr, "--", cmd)...)...)
		return code, errOut
	}
	ranJobs := func() []string {
		data, _ := os.ReadFile(ran)
		return strings.Fields(string(data))
	}

	if code, errOut := mapRun(lines(12), "--resume"); code != 1 || len(ranJobs()) != 12 {
		t.Fatalf("first run (a missing log resumes nothing): exit %d, ran %v, want 1 (two failed) and all 12; stderr:\n%s", code, ranJobs(), errOut)
	}
	os.RemoveAll(block)
	os.Mkdir(block, 0o755)
	code, errOut := mapRun(lines(12), "--resume")
	if got := strings.Join(sortedNums(ranJobs()), " "); code != 0 || got != "4 9" {
		t.Fatalf("resumed: exit %d, ran %q, want 0 and only the failed 4 9; stderr:\n%s", code, got, errOut)
	}
	if !strings.Contains(errOut, "2 jobs: 2 ok, 0 failed, 0 not run (10 more done before, in the job log)") {
		t.Errorf("resumed: stderr:\n%s", errOut)
	}
	data, _ := os.ReadFile(joblog)
	if n := strings.Count(string(data), "\n"); n != 1+12+2 || strings.Count(string(data), "Seq\t") != 1 {
		t.Errorf("the job log, after two runs, has %d lines, want a header and 14 jobs:\n%s", n, data)
	}

	// A run that died mid-line left a fragment: the job on it runs again,
	// and the fragment does not swallow the next line.
	data, _ = os.ReadFile(joblog)
	lastNL := strings.LastIndex(strings.TrimSuffix(string(data), "\n"), "\n")
	os.WriteFile(joblog, append(data[:lastNL+1], data[lastNL+1:lastNL+8]...), 0o644) // the last job's line, cut short
	if code, errOut := mapRun(lines(12), "--resume"); code != 0 || len(ranJobs()) != 1 {
		t.Fatalf("after a cut line: exit %d, ran %v, want the one job; stderr:\n%s", code, ranJobs(), errOut)
	}
	// All done: nothing runs.
	if code, errOut := mapRun(lines(12), "--resume"); code != 0 || len(ranJobs()) != 0 || !strings.Contains(errOut, "all 12 jobs are done") {
		t.Errorf("all done: exit %d, ran %v; stderr:\n%s", code, ranJobs(), errOut)
	}
	// More input, and line 2 changed: job 2 is another command now.
	in := strings.Replace(lines(14), "\n2\n", "\ntwo\n", 1)
	code, errOut = mapRun(in, "--resume")
	if got := strings.Join(sortedNums(ranJobs()), " "); code != 0 || got != "13 14 two" {
		t.Errorf("changed input: exit %d, ran %q, want 13 14 two; stderr:\n%s", code, got, errOut)
	}
	// Without --resume, the log starts over and everything runs.
	if code, errOut := mapRun(lines(3)); code != 0 || len(ranJobs()) != 3 {
		t.Errorf("without --resume: exit %d, ran %v; stderr:\n%s", code, ranJobs(), errOut)
	}
	if data, _ := os.ReadFile(joblog); strings.Count(string(data), "\n") != 4 {
		t.Errorf("without --resume, the log should be new:\n%s", data)
	}
	if code, _, errOut := herd(t, "1\n", lb.mapArgs("--resume", lb.expr, "--", "true")...); code != exitUsage || !strings.Contains(errOut, "--resume needs --joblog") {
		t.Errorf("--resume without --joblog: %d %q", code, errOut)
	}
}

// sortedNums sorts numbers as numbers, the rest after them.
func sortedNums(s []string) []string {
	out := slices.Clone(s)
	key := func(x string) int {
		if n, err := strconv.Atoi(x); err == nil {
			return n
		}
		return math.MaxInt
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// --keep-order prints the jobs' output in input order, each job's lines
// together, though the later jobs end first.
func TestMapKeepOrder(t *testing.T) {
	lb := newAgentLabN(t, 1)
	in := "5\n4\n3\n2\n1\n"
	cmd := "sleep 0.{}; echo {} a; echo {} b"
	code, out, errOut := herd(t, in, lb.mapArgs("--keep-order", "--slots", "5", lb.expr, "--", cmd)...)
	if want := "5 a\n5 b\n4 a\n4 b\n3 a\n3 b\n2 a\n2 b\n1 a\n1 b\n"; code != 0 || out != want {
		t.Errorf("--keep-order: exit %d, output %q, want %q; stderr:\n%s", code, out, want, errOut)
	}
	code, out, _ = herd(t, in, lb.mapArgs("--slots", "5", lb.expr, "--", cmd)...)
	if want := "1 a\n1 b\n2 a\n2 b\n3 a\n3 b\n4 a\n4 b\n5 a\n5 b\n"; code != 0 || out != want {
		t.Errorf("without --keep-order: exit %d, output %q, want %q (as the jobs end)", code, out, want)
	}
}
