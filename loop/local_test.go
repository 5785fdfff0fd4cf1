package loop_test

import (
	"testing"

	"github.com/cport/cport/loop"
)

var counter = loop.NewLocal[int]()

// Each loop has its own value of a Local, made on first use.
func TestLocalIsPerLoop(t *testing.T) {
	a, b := startLoop(t, loop.Config{}), startLoop(t, loop.Config{})
	runOn(t, a, func() { *counter.Get(a) += 2 })
	runOn(t, b, func() { *counter.Get(b) += 5 })
	runOn(t, a, func() {
		if got := *counter.Get(a); got != 2 {
			t.Errorf("loop a's value = %d, want 2", got)
		}
		first, again := counter.Get(a), counter.Get(a)
		if first != again {
			t.Error("Get returned different pointers for one loop")
		}
	})
	runOn(t, b, func() {
		if got := *counter.Get(b); got != 5 {
			t.Errorf("loop b's value = %d, want 5", got)
		}
	})
}
