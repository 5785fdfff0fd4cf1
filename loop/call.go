package loop

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/cport/cport/port"
)

// What the slow-callback report calls each kind of code the loop runs.
const (
	kindCallback = "callback"
	kindTimer    = "timer"
	kindFunc     = "func" // CallSoon and Post
)

// A panic in one callback must not take the loop down nor skip the rest of
// its batch. Rather than a deferred recover around every call (a few ns
// each, BenchmarkRecover), each batch runs under one: on a panic the
// deferred function reports it and the batch resumes after the culprit.

// runFuncs runs fns in order, clearing each entry as it goes.
func (l *Loop) runFuncs(kind string, fns []func()) {
	for i := 0; i < len(fns); {
		i = l.runFuncsFrom(kind, fns, i)
	}
}

// runFuncsFrom runs fns[i:] and returns where to resume: len(fns), or just
// past a function that panicked.
func (l *Loop) runFuncsFrom(kind string, fns []func(), i int) (next int) {
	defer func() {
		if v := recover(); v != nil {
			l.panicked(v)
			next = i + 1
		}
	}()
	for ; i < len(fns); i++ {
		fn := fns[i]
		fns[i] = nil // drop the reference; the slice is reused
		l.invoke(kind, fn)
	}
	return i
}

// dispatchAll hands each completion to its callback.
func (l *Loop) dispatchAll(cs []port.Completion) {
	for i := 0; i < len(cs); {
		i = l.dispatchFrom(cs, i)
	}
}

func (l *Loop) dispatchFrom(cs []port.Completion, i int) (next int) {
	defer func() {
		if v := recover(); v != nil {
			l.panicked(v)
			next = i + 1
		}
	}()
	for ; i < len(cs); i++ {
		l.dispatch(cs[i])
	}
	return i
}

// panicked reports a recovered panic. It runs inside the deferred function,
// on top of the panicking frames, so the stack shows where it happened.
func (l *Loop) panicked(v any) {
	l.onPanic(v, debug.Stack())
}

func (l *Loop) invoke(kind string, fn func()) {
	if l.slow > 0 {
		start := time.Now()
		fn()
		l.reportSlow(kind, fn, start)
		return
	}
	fn()
}

func (l *Loop) invokeCallback(h Handler, c port.Completion) {
	if l.slow > 0 {
		start := time.Now()
		h.Complete(c)
		l.reportSlow(kindCallback, h, start)
		return
	}
	h.Complete(c)
}

func (l *Loop) reportSlow(kind string, fn any, start time.Time) {
	if d := time.Since(start); d > l.slow {
		l.onSlow(kind+" "+funcName(fn), d)
	}
}

// funcName names the function behind a func value, so a report points at
// the code that blocked the loop rather than at the loop.
func funcName(fn any) string {
	switch v := fn.(type) {
	case Callback:
		fn = (func(port.Completion))(v)
	case Handler:
		return fmt.Sprintf("%T.Complete", v)
	}
	if f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()); f != nil {
		return f.Name()
	}
	return "?"
}

// rateLimitedSlowReport is the default OnSlow: one line per function per
// second, so a callback that is always slow does not flood stderr.
func rateLimitedSlowReport() func(string, time.Duration) {
	last := make(map[string]time.Time)
	return func(what string, d time.Duration) {
		now := time.Now()
		if t, ok := last[what]; ok && now.Sub(t) < time.Second {
			return
		}
		last[what] = now
		fmt.Fprintf(os.Stderr, "loop: slow %s ran %v, blocking the loop\n", what, d)
	}
}
