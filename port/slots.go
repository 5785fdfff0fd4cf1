package port

// slotState is where a key's slot stands.
type slotState uint8

const (
	slotFree     slotState = iota // on the free list; no key names it
	slotIdle                      // registered, nothing in flight
	slotInFlight                  // an operation awaits its final completion
	slotReleased                  // released while in flight; freed on the final completion
)

// slot holds one key's operation and the memory the kernel reads or writes
// while the operation is in flight. Slots live in fixed-size chunks that are
// never moved or freed, so the addresses handed to the kernel stay valid no
// matter how the table grows.
//
// A backend that queues operations itself (epoll) keeps its bookkeeping
// here too, in next, prev, where and connecting, rather than in a table of
// its own beside this one: those fields fill what would otherwise be
// padding before op, so the slot stays 64 bytes on Linux and a pending
// operation costs the same on every backend. An idle connection holds one
// slot (its receive), so this is a per-connection cost.
type slot struct {
	gen uint32
	// next links the free list while the slot is free, and the backend's
	// queue of the operation while it is in flight; prev is the queue's
	// back link. Both are slot index + 1, 0 ending the list.
	next, prev int32
	state      slotState
	// cancelled: a cancel was asked for the operation in flight, so a
	// completion the backend would retry is final instead.
	cancelled  bool
	where      opWhere // which backend queue the operation waits in
	connecting bool    // epoll: connect returned EINPROGRESS; SO_ERROR has the outcome
	sys        slotSys //lint:ignore U1000 per-platform scratch (empty on Linux); not last, as a trailing empty field pads the struct
	op         Op
}

// opWhere says which of its backend's queues an operation waits in; the
// backends that queue operations define the values (zero: none).
type opWhere uint8

// slotTable allocates slots and resolves keys to them. It is used only by
// the port's owning goroutine.
type slotTable struct {
	slots    chunks[slot]
	freeHead int32 // index of the first free slot, or -1
	used     int32 // slots ever handed out (the high-water mark)
	inflight int   // slots in slotInFlight or slotReleased
	started  bool
}

func (t *slotTable) alloc() Key {
	if !t.started {
		t.freeHead = -1
		t.started = true
	}
	var idx int32
	if t.freeHead >= 0 {
		idx = t.freeHead
		t.freeHead = t.at(idx).next
	} else {
		idx = t.used
		t.slots.grow(int(idx))
		t.used++
		t.at(idx).gen = 1
	}
	s := t.at(idx)
	s.state = slotIdle
	return makeKey(uint32(idx), s.gen)
}

func (t *slotTable) at(idx int32) *slot { return t.slots.at(int(idx)) }

// lookup returns the slot k names, or nil when k is malformed, free, or of
// an earlier generation.
func (t *slotTable) lookup(k Key) *slot {
	idx := k.index()
	if idx >= uint32(t.used) {
		return nil
	}
	s := t.at(int32(idx))
	if s.gen != k.gen() || s.state == slotFree {
		return nil
	}
	return s
}

// markCancelled flags the slots in flight that match, so that none of
// them is retried after the cancel (rare: CancelFD and CancelAll).
func (t *slotTable) markCancelled(match func(*slot) bool) {
	for i := int32(0); i < t.used; i++ {
		if s := t.at(i); s.state == slotInFlight && match(s) {
			s.cancelled = true
		}
	}
}

// setState moves s to state, keeping the in-flight count.
func (t *slotTable) setState(s *slot, state slotState) {
	was := s.state == slotInFlight || s.state == slotReleased
	now := state == slotInFlight || state == slotReleased
	switch {
	case now && !was:
		t.inflight++
	case was && !now:
		t.inflight--
	}
	s.state = state
}

func (t *slotTable) free(k Key) {
	s := t.lookup(k)
	if s == nil {
		return
	}
	t.setState(s, slotFree)
	s.op = Op{}
	s.gen++
	if s.gen == 0 {
		s.gen = 1 // generation zero is reserved for the backends' user data
	}
	s.next = t.freeHead
	t.freeHead = int32(k.index())
}

func (t *slotTable) inFlight() int { return t.inflight }
