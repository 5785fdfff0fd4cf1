package loop_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/loop"
)

// A loop that keeps sleeping in its poll for short spells, as under load,
// must not set the runtime's threads switching: without the loop's
// periodic pass through the scheduler, sysmon takes its P away at every
// 20 µs tick from 10 ms on, waking a thread each time.
func TestShortWaitsWakeNoThreads(t *testing.T) {
	l := startLoop(t, loop.Config{})
	const waits = 4000
	start := time.Now()
	others := shortWaits(t, l, waits)
	// Allowed: the garbage collector's and the test's own, and a few per
	// pass through the scheduler (one per 5 ms, so a slow machine passes
	// more often). Losing the P costs more than one per wait.
	passes := int(time.Since(start) / (5 * time.Millisecond))
	allowed := waits/4 + 4*passes
	t.Logf("%d short waits of the loop, %d passes through the scheduler: the other threads switched %d times", waits, passes, others)
	if others > allowed {
		t.Fatalf("the other threads switched %d times during %d short waits of the loop, want at most %d: is the runtime taking the loop's P away?", others, waits, allowed)
	}
}

// What the loop's pass through the scheduler saves: b.N short waits of
// the loop (50 µs timers, as a loaded loop's polls), with the pass every
// 5 ms and with none, reported as the other threads' context switches
// and the process's CPU time per wait. Figures and command: sysmon.go.
func BenchmarkShortWaits(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every time.Duration
	}{{"pass", 5 * time.Millisecond}, {"nopass", time.Duration(1<<63 - 1)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.Cleanup(loop.SetRescheduleEvery(bc.every)) // after the loop has closed (cleanups run last first)
			l := startLoop(b, loop.Config{})
			var before, after unix.Rusage
			unix.Getrusage(unix.RUSAGE_SELF, &before)
			b.ResetTimer()
			others := shortWaits(b, l, b.N)
			b.StopTimer()
			unix.Getrusage(unix.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			b.ReportMetric(float64(others)/float64(b.N), "switches/wait")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/wait")
		})
	}
}

// shortWaits has l sleep n times in its poll for 50 µs and returns how
// many context switches the process's other threads made meanwhile.
func shortWaits(t testing.TB, l *loop.Loop, n int) int {
	t.Helper()
	var loopTID int
	runOn(t, l, func() { loopTID = unix.Gettid() })
	before := threadSwitches(t, loopTID)
	done := make(chan struct{})
	left := n
	var rearm func()
	rearm = func() {
		if left--; left <= 0 {
			close(done)
			return
		}
		l.CallLater(50*time.Microsecond, rearm)
	}
	if err := l.Post(rearm); err != nil {
		t.Fatal(err)
	}
	wait(t, done, "the timer chain")
	return threadSwitches(t, loopTID) - before
}

// threadSwitches sums the context switches of this process's threads
// other than skip.
func threadSwitches(t testing.TB, skip int) int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, dir := range dirs {
		if filepath.Base(dir) == strconv.Itoa(skip) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue // the thread has exited
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				total += n
			}
		}
	}
	return total
}
