package transport

import (
	"slices"
	"time"
)

// A burst (thousands of connections answering in the same loop turn)
// takes as many write chunks, segment lists and send messages as it has
// writes in flight, and the loop's free lists keep them once it is over:
// up to megabytes a loop, held by a server that has gone quiet. So each
// free list remembers the fewest entries it held since the last trim
// (its low-water mark): those were not needed all period long. Once a
// period the trim gives that many back to the collector. A steady load
// keeps its working set, an idle loop ends with empty lists, and no
// timer runs while the lists are empty.

// poolTrimEvery is the trim period; a variable for the tests.
var poolTrimEvery = time.Second

// freeList is a stack of spare T with its low-water mark since the last
// trim.
type freeList[T any] struct {
	items  []T
	fewest int
}

func (f *freeList[T]) pop() (v T, ok bool) {
	n := len(f.items)
	if n == 0 {
		f.fewest = 0
		return v, false
	}
	v = f.items[n-1]
	clear(f.items[n-1:])
	f.items = f.items[:n-1]
	f.fewest = min(f.fewest, n-1)
	return v, true
}

func (f *freeList[T]) push(v T) { f.items = append(f.items, v) }

// trim drops the entries the period never reached (the bottom of the
// stack), keeping the rest in a right-sized array, starts the next
// period, and returns what it dropped.
func (f *freeList[T]) trim() (dropped []T) {
	if f.fewest > 0 {
		dropped = f.items[:f.fewest]
		f.items = slices.Clone(f.items[f.fewest:])
		if len(f.items) == 0 {
			f.items = nil
		}
	}
	f.fewest = len(f.items)
	return dropped
}

// spare arms the trim when something went back to a free list and no
// trim is pending. One bool test per put: the lists are the loop's.
func (s *shared) spare() {
	if s.trimArmed || s.l == nil {
		return
	}
	s.trimArmed = true
	if s.trimFn == nil {
		s.trimFn = s.trim
	}
	s.l.CallLater(poolTrimEvery, s.trimFn)
}

// trim runs on the loop's timer: it trims every free list, and arms
// itself again while any still holds something.
func (s *shared) trim() {
	s.trimArmed = false
	held := 0
	for i := range s.chunks.free {
		s.trimmed += len(s.chunks.free[i].trim()) * chunkClasses[i]
		held += len(s.chunks.free[i].items)
	}
	s.segs.free.trim()
	s.msgs.trim()
	held += len(s.segs.free.items) + len(s.msgs.items)
	if held > 0 {
		s.spare()
	}
}
