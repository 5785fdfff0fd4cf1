package loop_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// A panic in a posted function, a timer or a callback is reported with its
// stack, and the loop goes on.
func TestPanicIsRecoveredAndReported(t *testing.T) {
	type report struct {
		v     any
		stack string
	}
	reports := make(chan report, 3)
	l := startLoop(t, loop.Config{OnPanic: func(v any, stack []byte) { reports <- report{v, string(stack)} }})
	l.Post(func() { panic("in a posted function") })
	runOn(t, l, func() {
		l.CallLater(0, func() { panic("in a timer") })
		k, _ := l.Register(func(port.Completion) { panic("in a callback") })
		l.Submit(k, port.Nop())
	})
	want := map[any]bool{"in a posted function": true, "in a timer": true, "in a callback": true}
	for range 3 {
		r := wait(t, reports, "a panic report")
		if !want[r.v] {
			t.Errorf("unexpected or repeated panic value %v", r.v)
		}
		delete(want, r.v)
		if !strings.Contains(r.stack, "panic") || !strings.Contains(r.stack, "loop_test") {
			t.Errorf("stack for %v does not show the panicking code:\n%s", r.v, r.stack)
		}
	}
	ok := false
	runOn(t, l, func() { ok = true })
	if !ok {
		t.Error("the loop stopped after the panics")
	}
}

// slowThreshold is the SlowCallback of TestSlowCallbackReported; the
// slow functions sleep well past it.
const slowThreshold = time.Millisecond

func slowFunc()                    { time.Sleep(5 * slowThreshold) }
func slowCallback(port.Completion) { time.Sleep(5 * slowThreshold) }

// With SlowCallback set, a function, timer or callback that runs longer is
// reported, naming its kind and function. Other reports (any code may
// overrun a threshold on a loaded machine) are logged and ignored.
func TestSlowCallbackReported(t *testing.T) {
	type report struct {
		what string
		d    time.Duration
	}
	reports := make(chan report, 64)
	l := startLoop(t, loop.Config{
		SlowCallback: slowThreshold,
		OnSlow:       func(what string, d time.Duration) { reports <- report{what, d} },
	})
	l.Post(slowFunc)
	runOn(t, l, func() {
		l.CallLater(0, slowFunc)
		k, _ := l.Register(slowCallback)
		l.Submit(k, port.Nop())
	})
	want := map[string]string{
		"func":     "loop_test.slowFunc",
		"timer":    "loop_test.slowFunc",
		"callback": "loop_test.slowCallback",
	}
	for len(want) > 0 {
		r := wait(t, reports, "a slow-callback report")
		if r.d <= slowThreshold {
			t.Errorf("reported %q at %v, not over the %v threshold", r.what, r.d, slowThreshold)
		}
		kind, name, _ := strings.Cut(r.what, " ")
		if w, ok := want[kind]; ok && strings.HasSuffix(name, w) {
			delete(want, kind)
			continue
		}
		t.Logf("other report: %q (%v)", r.what, r.d)
	}
}

// A panic stops only the function that raised it: the rest of its batch
// (ready functions, due timers, completions of one Wait) still runs, in
// order, in the same pass.
func TestPanicSkipsOnlyItsOwnCall(t *testing.T) {
	panics := make(chan any, 8)
	l := startLoop(t, loop.Config{OnPanic: func(v any, _ []byte) { panics <- v }})
	var order []string // loop only
	var soonAt, timerAt []uint64
	done := make(chan struct{})
	runOn(t, l, func() {
		note := func(s string) func() {
			return func() { order = append(order, s); soonAt = append(soonAt, l.Iterations()) }
		}
		l.CallSoon(note("soon 1"))
		l.CallSoon(func() { panic("soon") })
		l.CallSoon(note("soon 2"))
		l.CallSoon(func() { panic("soon again") })
		l.CallSoon(note("soon 3"))

		at := l.Now().Add(time.Millisecond) // one deadline for all four
		tnote := func(s string) func() {
			return func() { order = append(order, s); timerAt = append(timerAt, l.Iterations()) }
		}
		l.CallAt(at, tnote("timer 1"))
		l.CallAt(at, func() { panic("timer") })
		l.CallAt(at, tnote("timer 2"))
		l.CallAt(at, func() { close(done) })
	})
	wait(t, done, "the timers")
	for range 3 {
		wait(t, panics, "a panic report")
	}
	runOn(t, l, func() {
		// Each batch in its own order, every call but the panicking ones
		// run. (Which batch runs first depends on whether the timers'
		// millisecond has passed when the loop first looks: on a slow
		// machine, it has.)
		var soons, timers []string
		for _, s := range order {
			if strings.HasPrefix(s, "soon") {
				soons = append(soons, s)
			} else {
				timers = append(timers, s)
			}
		}
		if !slices.Equal(soons, []string{"soon 1", "soon 2", "soon 3"}) || !slices.Equal(timers, []string{"timer 1", "timer 2"}) {
			t.Errorf("ran %q, want soon 1 to 3 and timer 1 and 2, each in order", order)
		}
		if soonAt[0] != soonAt[2] || timerAt[0] != timerAt[1] {
			t.Errorf("a panic split its batch across iterations: ready at %v, timers at %v", soonAt, timerAt)
		}
	})
}
