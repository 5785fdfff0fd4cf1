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
	var loopTID int
	runOn(t, l, func() { loopTID = unix.Gettid() })
	before := threadSwitches(t, loopTID)
	start := time.Now()
	done := make(chan struct{})
	left := waits
	var rearm func()
	rearm = func() {
		if left--; left == 0 {
			close(done)
			return
		}
		l.CallLater(50*time.Microsecond, rearm)
	}
	if err := l.Post(rearm); err != nil {
		t.Fatal(err)
	}
	wait(t, done, "the timer chain")
	others := threadSwitches(t, loopTID) - before
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

// threadSwitches sums the context switches of this process's threads
// other than skip.
func threadSwitches(t *testing.T, skip int) int {
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
