package flow

import (
	"time"

	"github.com/cport/cport/loop"
)

// deadline is one direction's deadline on a connection (loop only): the
// time, and the loop timer that is armed only while calls wait on it.
type deadline struct {
	at    int64 // monoNow's reading at the deadline; 0 for none
	timer loop.Timer
	fire  func() // the owner's timer callback, set with the first deadline
}

// monoBase is the zero of monoNow.
var monoBase = time.Now()

// monoNow is the monotonic clock in nanoseconds since monoBase. A
// deadline kept on it takes 8 bytes rather than a time.Time's 24, in
// every connection.
func monoNow() int64 { return int64(time.Since(monoBase)) }

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool { return d.at != 0 && monoNow() >= d.at }

// arm starts the timer for a call about to wait, unless it already runs or
// there is no deadline.
func (d *deadline) arm(l *loop.Loop) {
	if d.timer == 0 && d.at != 0 {
		d.timer = l.CallAt(monoBase.Add(time.Duration(d.at)), d.fire)
	}
}

// stop cancels the timer.
func (d *deadline) stop(l *loop.Loop) {
	if d.timer != 0 {
		l.CancelTimer(d.timer)
		d.timer = 0
	}
}

// fired is the timer's work: if the deadline has passed, the calls
// waiting in q end with err(); else, while any wait, the timer re-arms
// (the deadline moved later meanwhile).
func (d *deadline) fired(l *loop.Loop, q *waitq, err func() error) {
	d.timer = 0
	if d.expired() {
		q.wakeAll(err())
	} else if q.head != nil {
		d.arm(l)
	}
}

// set moves the deadline to t and applies it to the calls waiting in q
// now. The owner sets fire first, once: a method value made at every call
// would allocate.
func (d *deadline) set(l *loop.Loop, t time.Time, q *waitq) {
	d.at = 0
	if !t.IsZero() {
		d.at = max(int64(t.Sub(monoBase)), 1) // one before monoBase has passed too
	}
	d.stop(l)
	if q.head != nil {
		d.fire()
	}
}
