package http

import "time"

// Timeouts are enforced by one timer per loop that sweeps its
// connections, not by a timer per connection: an idle connection then
// costs no timer record, heap entry or callback (about 60 bytes, which
// the garbage collector's headroom doubles in RSS), only its two times.
// The price is precision: a connection times out up to one sweep interval
// late, an eighth of the shorter timeout and at most a second; and each
// sweep reads every connection of the loop, some tens of microseconds a
// second for 10,000 of them.
const maxSweepInterval = time.Second

// sweepInterval is how often a loop checks its connections' deadlines.
func (ls *loopState) sweepInterval() time.Duration {
	lim := &ls.s.lim
	d := min(lim.ReadHeaderTimeout, lim.IdleTimeout, lim.BodyReadTimeout, lim.SendTimeout) / 8
	return max(min(d, maxSweepInterval), time.Millisecond)
}

// armSweep schedules the next sweep (on the loop).
func (ls *loopState) armSweep() {
	if ls.sweepFn == nil {
		ls.sweepFn = ls.sweep
	}
	ls.sweeper = ls.l.CallLater(ls.sweepInterval(), ls.sweepFn)
}

// sweep times out the connections past their deadline and re-arms while
// any connection is left. It walks the list from the end, since a
// connection that closes may be swapped out of its place by untrack: the
// one moved in has then been checked already.
func (ls *loopState) sweep() {
	ls.sweeper = 0
	now := monoOf(ls.l.Now())
	for i := len(ls.conns) - 1; i >= 0; i-- {
		if i < len(ls.conns) {
			ls.conns[i].expire(now)
		}
	}
	if len(ls.conns) > 0 {
		ls.armSweep()
	}
}
