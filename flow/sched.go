package flow

import (
	"sync"

	"github.com/cport/cport/loop"
)

// maxRunPass bounds how many flows one pass resumes before the loop gets a
// turn: flows handing off to each other without I/O still let the loop
// poll its port every so often.
const maxRunPass = 1024

// sched is one loop's flow scheduler: a run queue of flows ready to
// resume, run by a function the loop calls soon. Loop only.
//
// A switch from one flow to another would cost two coroutine switches if
// it went through the loop goroutine (flow to loop, loop to flow). So a
// flow that the loop resumed and that parks becomes the driver: it
// resumes the ready flows itself (their next called from its coroutine;
// they yield back to it), and when it is made ready in turn it simply
// returns from its park (or Yield). A ping-pong between two flows is
// then one coroutine switch each way, the two of a bare iter.Pull round
// trip. Only the flow the loop resumed drives; those it resumes park by
// yielding back to it, so coroutines never nest deeper than two.
type sched struct {
	l         *loop.Loop
	runHead   *Flow // the run queue, linked through Flow.rnext
	runTail   *Flow
	budget    int // resumes left in this pass
	scheduled bool
	current   *Flow // the flow running now, nil between flows
	driver    *Flow // the parked flow resuming others, if any
	live      flowList
	closing   bool
	runFn     func()
}

// scheds maps each loop with flows to its scheduler.
var scheds sync.Map // *loop.Loop -> *sched

// schedFor returns l's scheduler, creating it on first use.
func schedFor(l *loop.Loop) *sched {
	if s, ok := scheds.Load(l); ok {
		return s.(*sched)
	}
	s := &sched{l: l}
	s.runFn = s.run
	actual, loaded := scheds.LoadOrStore(l, s)
	if !loaded {
		// Registered on the loop, so it runs there; if the loop is already
		// closed nothing will ever be scheduled on it anyway.
		_ = l.Post(func() { l.AtClose(s.close) })
	}
	return actual.(*sched)
}

// current returns the flow running on l, or nil if the caller is not in a
// flow of l. A flow runs only while the loop goroutine is blocked resuming
// it, so "on l and a flow is current" means "in that flow".
func current(l *loop.Loop) *Flow {
	if !l.InLoop() {
		return nil
	}
	p := loopSched.Get(l)
	if *p == nil {
		s, ok := scheds.Load(l)
		if !ok {
			return nil
		}
		*p = s.(*sched)
	}
	return (*p).current
}

// loopSched caches a loop's scheduler with the loop, where the flows'
// every blocking call finds it: a sync.Map lookup hashes an interface.
var loopSched = loop.NewLocal[*sched]()

// ready queues f to resume (loop only). The driver is not queued: it
// notices it is ready and returns from its park.
func (s *sched) ready(f *Flow) {
	f.state = stateReady
	if f == s.driver {
		return
	}
	// A ready flow is queued once: linking it through itself allocates
	// nothing and never copies, however the flows ready one another.
	if s.runTail != nil {
		s.runTail.rnext = f
	} else {
		s.runHead = f
	}
	s.runTail = f
	if !s.scheduled {
		s.scheduled = true
		s.l.CallSoon(s.runFn)
	}
}

// pop takes the next ready flow, or nil.
func (s *sched) pop() *Flow {
	f := s.runHead
	if f != nil {
		s.runHead, f.rnext = f.rnext, nil
		if s.runHead == nil {
			s.runTail = nil
		}
	}
	return f
}

// run resumes ready flows, at most maxRunPass of them; flows made ready
// meanwhile run in the same pass, up to the bound, so a handoff between
// flows costs a coroutine switch, not a loop iteration.
func (s *sched) run() {
	s.budget = maxRunPass
	for g := s.pick(); g != nil; g = s.pick() {
		s.current = g
		g.next()
		s.current = nil
	}
	s.scheduled = false
	if s.runHead != nil {
		s.scheduled = true
		s.l.CallSoon(s.runFn)
	}
}

// pick takes the next flow to resume off the run queue, marks it running
// and counts it against the pass's budget; nil once the queue is empty or
// the budget spent. A yielding driver is in the queue too: when pick
// returns it, its turn has come, and that turn counts, so a flow yielding
// alone still lets the loop poll now and then. The caller switches to
// what pick returns in its own frame (see park): pick is small enough to
// be inlined there.
func (s *sched) pick() *Flow {
	for s.budget > 0 {
		g := s.pop()
		if g == nil {
			return nil
		}
		if g.state != stateReady {
			continue
		}
		s.budget--
		g.state = stateRunning
		return g
	}
	return nil
}

// close cancels every live flow as the loop shuts down, so none stays
// parked on a loop that will never resume it; the shutdown runs them to
// their end.
func (s *sched) close() {
	s.closing = true
	scheds.Delete(s.l)
	*loopSched.Get(s.l) = nil
	for f := s.live.head; f != nil; f = f.lnext {
		f.cancelOnLoop()
	}
}

// flowList is an intrusive list of a loop's live flows.
type flowList struct{ head *Flow }

func (fl *flowList) add(f *Flow) {
	f.lnext = fl.head
	if fl.head != nil {
		fl.head.lprev = f
	}
	fl.head = f
}

func (fl *flowList) remove(f *Flow) {
	if f.lprev != nil {
		f.lprev.lnext = f.lnext
	} else if fl.head == f {
		fl.head = f.lnext
	}
	if f.lnext != nil {
		f.lnext.lprev = f.lprev
	}
	f.lprev, f.lnext = nil, nil
}
