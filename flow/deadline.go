package flow

import (
	"time"

	"github.com/cport/cport/loop"
)

// deadline is one direction's deadline on a connection (loop only): the
// time, and the loop timer that is armed only while calls wait on it.
type deadline struct {
	at    time.Time
	timer loop.Timer
	fire  func() // the owner's timer callback, set with the first deadline
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool { return !d.at.IsZero() && !time.Now().Before(d.at) }

// arm starts the timer for a call about to wait, unless it already runs or
// there is no deadline.
func (d *deadline) arm(l *loop.Loop) {
	if d.timer == 0 && !d.at.IsZero() {
		d.timer = l.CallAt(d.at, d.fire)
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
	d.at = t
	d.stop(l)
	if q.head != nil {
		d.fire()
	}
}
