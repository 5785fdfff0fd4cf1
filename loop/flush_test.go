package loop_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// flushRecorder is a Flusher that notes its runs, and may queue another.
type flushRecorder struct {
	name  string
	l     *loop.Loop
	trace *[]string
	then  loop.Flusher
	panic bool
}

func (f *flushRecorder) FlushBeforePoll() {
	*f.trace = append(*f.trace, f.name)
	if f.then != nil {
		f.l.FlushBeforePoll(f.then)
	}
	if f.panic {
		panic("flusher " + f.name)
	}
}

// Flushers run once each, in queue order, after the turn's functions
// and before the loop polls: a completion submitted with them is
// dispatched after all of them. One a Flusher queues runs in the same
// turn; one that panics is reported and the rest still run. (What
// CallSoon queues runs on the next turn, so its place against the
// completion is not asserted.)
func TestFlushBeforePoll(t *testing.T) {
	panics := make(chan string, 1)
	l := startLoop(t, loop.Config{OnPanic: func(v any, _ []byte) { panics <- v.(string) }})
	var trace []string
	done := make(chan struct{})
	runOn(t, l, func() {
		third := &flushRecorder{name: "third", l: l, trace: &trace}
		l.FlushBeforePoll(&flushRecorder{name: "first", l: l, trace: &trace, then: third})
		l.FlushBeforePoll(&flushRecorder{name: "second", l: l, trace: &trace, panic: true})
		k, err := l.Register(func(port.Completion) {
			trace = append(trace, "completion")
			close(done)
		})
		if err != nil {
			t.Error(err)
			return
		}
		l.Submit(k, port.Nop())
		l.CallSoon(func() { trace = append(trace, "soon") })
		trace = append(trace, "posted")
	})
	wait(t, done, "the nop's completion")
	if p := wait(t, panics, "the panic report"); !strings.Contains(p, "second") {
		t.Errorf("panic reported: %q", p)
	}
	runOn(t, l, func() {
		got := slices.DeleteFunc(slices.Clone(trace), func(s string) bool { return s == "soon" })
		want := []string{"posted", "first", "second", "third", "completion"}
		if !slices.Equal(got, want) || len(trace) != len(want)+1 {
			t.Errorf("order = %v, want %v", trace, want)
		}
	})
}

// A Flusher queued as the loop closes still runs, during the shutdown.
func TestFlushBeforePollAtClose(t *testing.T) {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var trace []string
	ran := make(chan struct{})
	if err := l.Post(func() {
		l.FlushBeforePoll(&flushRecorder{name: "at close", l: l, trace: &trace})
		l.Stop()
		close(ran)
	}); err != nil {
		t.Fatal(err)
	}
	wait(t, ran, "the posted function")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(trace, []string{"at close"}) {
		t.Errorf("flushers run at close: %v", trace)
	}
}
