package loop

import "sync/atomic"

// Counters are a loop's numbers for monitoring. The loop keeps its own
// (wake-ups, completions, timers); the layers above keep theirs here too
// (transport: connections, bytes, queued writes; flow: flows), always on
// the loop's thread, so each update is an uncontended atomic add. Any
// goroutine may read them: Stats takes a snapshot.
type Counters struct {
	// Connections accepted and dialed, ever, and closed, ever; open is
	// accepted + dialed - closed.
	ConnsAccepted, ConnsDialed, ConnsClosed atomic.Uint64
	// Bytes received and sent on the loop's connections, ever.
	BytesIn, BytesOut atomic.Uint64
	// WriteQueued is the bytes the loop's connections have queued and
	// not yet sent, now.
	WriteQueued atomic.Int64
	// Flows started on the loop and not ended; of those, parked (waiting
	// for I/O, a timer or an event), now.
	FlowsRunning, FlowsParked atomic.Int64

	wakeups, completions atomic.Uint64
	timers               atomic.Int64
}

// Stats is a snapshot of a loop's Counters.
type Stats struct {
	Wakeups     uint64 // returns from the port's wait
	Completions uint64 // completions dispatched, ever
	Timers      int64  // armed, now

	ConnsAccepted, ConnsDialed, ConnsClosed uint64
	ConnsOpen                               int64
	BytesIn, BytesOut                       uint64
	WriteQueued                             int64
	FlowsRunning, FlowsParked               int64
}

// Counters is the loop's Counters, for the layers that keep theirs on
// it; they update them on the loop's thread only.
func (l *Loop) Counters() *Counters { return &l.counters }

// Stats reads the loop's counters, from any goroutine. Each field is
// read on its own: a snapshot taken while the loop runs may be a moment
// apart from one field to the next.
func (l *Loop) Stats() Stats {
	c := &l.counters
	s := Stats{
		Wakeups:       c.wakeups.Load(),
		Completions:   c.completions.Load(),
		Timers:        c.timers.Load(),
		ConnsAccepted: c.ConnsAccepted.Load(),
		ConnsDialed:   c.ConnsDialed.Load(),
		ConnsClosed:   c.ConnsClosed.Load(),
		BytesIn:       c.BytesIn.Load(),
		BytesOut:      c.BytesOut.Load(),
		WriteQueued:   c.WriteQueued.Load(),
		FlowsRunning:  c.FlowsRunning.Load(),
		FlowsParked:   c.FlowsParked.Load(),
	}
	s.ConnsOpen = int64(s.ConnsAccepted+s.ConnsDialed) - int64(s.ConnsClosed)
	return s
}
