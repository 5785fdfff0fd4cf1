package port

import (
	"testing"
	"time"
)

// The gate opens a batch wait only while a window can be expected to
// gather gateGather arrivals (receives into provided buffers) at the rate
// of the last period: shut at 20,000 a second with a 50 µs window (one
// per window), however many other completions come with them, open at
// 100,000 (five), shut again after an idle stretch, and open until it
// has measured.
func TestBatchGate(t *testing.T) {
	ms := int64(time.Millisecond)
	g := newBatchGate(50 * time.Microsecond)
	if !g.lingers() {
		t.Fatal("a gate that has measured nothing is shut")
	}
	// wait is one Wait's completions: arrivals receives, and four times
	// as many sends and timers.
	wait := func(arrivals int) []Completion {
		var out []Completion
		for range arrivals {
			out = append(out, Completion{Flags: FlagBuffer}, Completion{}, Completion{}, Completion{}, Completion{})
		}
		return out
	}
	feed := func(perMilli, periods int, start int64) int64 {
		now := start
		for range periods {
			// A period's arrivals in 10 Waits.
			for range 10 {
				now += ms / 10
				g.count(wait(perMilli / 10))
				g.decide(now)
			}
		}
		return now
	}
	// A loop's first sleep may come long after the port opened, and a
	// timer may wake it before anything arrives: empty stretches measure
	// nothing.
	g.decide(5 * ms)
	g.decide(7 * ms)
	if !g.lingers() {
		t.Fatal("empty stretches of 5 and 2 ms before the first arrival shut the gate")
	}
	now := feed(20, 3, 5*ms)
	if g.lingers() {
		t.Error("open at 20 arrivals a millisecond (one per window)")
	}
	now = feed(100, 3, now)
	if !g.lingers() {
		t.Error("shut at 100 arrivals a millisecond (five per window)")
	}
	now += int64(time.Second) // idle
	g.count(wait(1))
	g.decide(now)
	if g.lingers() {
		t.Error("open after a second's idle and one arrival")
	}
	off := newBatchGate(0)
	off.count(wait(1000))
	off.decide(ms)
	if off.lingers() {
		t.Error("a gate without a window lingers")
	}
}
