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

// call runs fn so that a panic is reported and the loop goes on. The
// deferred recover is open-coded by the compiler: it costs a few
// instructions when nothing panics (BenchmarkCallProtected).
func (l *Loop) call(kind string, fn func()) {
	if l.slow > 0 {
		l.callTimed(kind, fn)
		return
	}
	defer l.recoverPanic()
	fn()
}

func (l *Loop) callCompletion(cb Callback, c port.Completion) {
	if l.slow > 0 {
		l.callCompletionTimed(cb, c)
		return
	}
	defer l.recoverPanic()
	cb(c)
}

func (l *Loop) callTimed(kind string, fn func()) {
	defer l.recoverPanic()
	defer l.reportSlow(kind, fn, time.Now())
	fn()
}

func (l *Loop) callCompletionTimed(cb Callback, c port.Completion) {
	defer l.recoverPanic()
	defer l.reportSlow(kindCallback, cb, time.Now())
	cb(c)
}

// recoverPanic must be the deferred function itself: recover only stops a
// panic when called directly by it.
func (l *Loop) recoverPanic() {
	if v := recover(); v != nil {
		l.onPanic(v, debug.Stack())
	}
}

func (l *Loop) reportSlow(kind string, fn any, start time.Time) {
	if d := time.Since(start); d > l.slow {
		l.onSlow(kind+" "+funcName(fn), d)
	}
}

// funcName names the function behind a func value, so a report points at
// the code that blocked the loop rather than at the loop.
func funcName(fn any) string {
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
