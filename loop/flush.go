package loop

// A Flusher is work a loop runs once before it next polls, after the
// functions, timers and flows of its turn. Transports written from a flow
// queue their sends there: the send then starts on the loop goroutine's
// stack, not the flow's (whose stack stays at its smallest size), and
// once for everything written in the turn.
type Flusher interface{ FlushBeforePoll() }

// FlushBeforePoll queues f to run before the loop next polls (loop only).
// The caller keeps f from being queued twice; a loop that closes first
// still runs it, during the shutdown.
func (l *Loop) FlushBeforePoll(f Flusher) { l.flushers = append(l.flushers, f) }

// runFlushers runs the queued Flushers, and those they queue in turn,
// each under the loop's panic recovery.
func (l *Loop) runFlushers() {
	for len(l.flushers) > 0 {
		run := l.flushers
		l.flushers = l.spareFlushers[:0]
		for i := 0; i < len(run); {
			i = l.runFlushersFrom(run, i)
		}
		l.spareFlushers = run[:0]
	}
}

func (l *Loop) runFlushersFrom(fs []Flusher, i int) (next int) {
	defer func() {
		if v := recover(); v != nil {
			l.panicked(v)
			next = i + 1
		}
	}()
	for ; i < len(fs); i++ {
		f := fs[i]
		fs[i] = nil // drop the reference; the slice is reused
		f.FlushBeforePoll()
	}
	return i
}
