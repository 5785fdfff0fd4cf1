package port

import (
	"syscall"
	"testing"
	"time"
)

// The epoll backend sleeps in epoll_pwait2, whose nanosecond timeout lets
// a timer fire when due; on kernels before 5.11 it falls back to
// epoll_wait's milliseconds, rounded up. Both must end a wait at a timer,
// never before it.
func TestEpollWaitTimeouts(t *testing.T) {
	for _, pwait2 := range []bool{true, false} {
		p, err := Open(Config{Backend: "epoll"})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		b := p.b.(*epollBackend)
		if pwait2 && !b.pwait2 {
			t.Log("this kernel has no epoll_pwait2: only the fallback runs")
			p.Close()
			continue
		}
		b.pwait2 = pwait2
		for _, d := range []time.Duration{0, 50 * time.Microsecond, 1500 * time.Microsecond} {
			k, err := p.Register()
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := p.Submit(k, Timeout(d)); err != nil {
				t.Fatal(err)
			}
			out := make([]Completion, 4)
			n, err := p.Wait(out, -1)
			if err != nil || n != 1 || out[0].Key != k {
				t.Fatalf("pwait2 %v, timeout %v: Wait = %d %v %+v, want the timer's completion", pwait2, d, n, err, out[:n])
			}
			if got := out[0].Err(); got != syscall.ETIME {
				t.Fatalf("pwait2 %v, timeout %v: completion error %v, want ETIME", pwait2, d, got)
			}
			if elapsed := time.Since(start); elapsed < d {
				t.Fatalf("pwait2 %v: a %v timer fired after %v", pwait2, d, elapsed)
			}
			p.Release(k)
		}
		p.Close()
	}
}
