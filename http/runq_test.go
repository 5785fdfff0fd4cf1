package http

import (
	"strings"
	"testing"
)

// TestRunQueueLanes: fresh connections go first, but never more than
// freshPerLater in a row while a pipeline waits in the later lane, so
// neither lane starves the other.
func TestRunQueueLanes(t *testing.T) {
	var ls loopState
	ls.awake = 1 // no worker to wake: the test only takes from the queue
	names := map[*conn]string{}
	add := func(lane *connQueue, name string) {
		c := &conn{}
		names[c] = name
		lane.push(c)
	}
	for range 2*freshPerLater + 2 {
		add(&ls.fresh, "f")
	}
	add(&ls.later, "L")
	add(&ls.later, "L")
	var got strings.Builder
	for c := ls.next(); c != nil; c = ls.next() {
		got.WriteString(names[c])
	}
	f := strings.Repeat("f", freshPerLater)
	if want := f + "L" + f + "L" + "ff"; got.String() != want {
		t.Fatalf("served %s, want %s", got.String(), want)
	}
}
