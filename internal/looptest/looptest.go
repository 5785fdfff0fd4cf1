// Package looptest holds test helpers for code that runs on loops.
package looptest

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// Stall is how long a loop may go without a turn while work waits for it
// before Watch calls it stuck. A loop thread that blocks (on another loop,
// a channel, a lock) stops taking its posts for good; a busy or starved
// machine can hold a loop up for a second or more, but not for this long.
const Stall = 5 * time.Second

// Watch ends the test binary, naming t and printing every goroutine's
// stack, if any running loop makes no turn for Stall while work is posted
// to it, until t ends. The stacks show which call blocked the loop's
// thread.
func Watch(t testing.TB) {
	t.Helper()
	if runtime.GOOS == "windows" {
		// The Windows tests run under Wine in CI, whose thread scheduling
		// stalls healthy loops for seconds: there a blocked loop shows as
		// the test's own timeout instead.
		return
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		type seen struct {
			turns uint64
			since time.Time
		}
		last := map[*loop.Loop]seen{}
		tick := time.NewTicker(Stall / 10)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				for _, l := range loop.Running() {
					turns, pending := l.Progress()
					s, ok := last[l]
					if !ok || turns != s.turns || !pending {
						last[l] = seen{turns, now}
						continue
					}
					if now.Sub(s.since) >= Stall {
						buf := make([]byte, 1<<20)
						buf = buf[:runtime.Stack(buf, true)]
						// A blocked loop never recovers, and the test would
						// hang in its cleanup (closing the loop): end the
						// run here, naming the test, with the stacks.
						fmt.Fprintf(os.Stderr, "%s: a loop made no turn for %v with work posted to it: its thread is blocked\n%s\n", t.Name(), now.Sub(s.since).Round(time.Millisecond), buf)
						panic(t.Name() + ": a loop's thread is blocked (stacks above)")
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-stopped
	})
}
