package loop_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// Each key's completions reach its own callback, once per operation.
func TestDispatchToEachKeysCallback(t *testing.T) {
	l := startLoop(t, loop.Config{})
	const n = 16
	type hit struct {
		key port.Key
		c   port.Completion
	}
	hits := make(chan hit, 2*n)
	keys := make([]port.Key, n)
	runOn(t, l, func() {
		for i := range keys {
			var k port.Key
			k, err := l.Register(func(c port.Completion) { hits <- hit{k, c} })
			if err != nil {
				t.Errorf("Register %d: %v", i, err)
				return
			}
			keys[i] = k
			op := port.Nop()
			if i%2 == 1 {
				op = port.Timeout(time.Millisecond)
			}
			if err := l.Submit(k, op); err != nil {
				t.Errorf("Submit %d: %v", i, err)
			}
		}
	})
	index := make(map[port.Key]int, n)
	for i, k := range keys {
		index[k] = i
	}
	seen := make(map[port.Key]int)
	for range n {
		h := wait(t, hits, "a completion")
		if h.c.Key != h.key {
			t.Errorf("callback of %v got the completion of %v", h.key, h.c.Key)
		}
		seen[h.key]++
		want := error(nil) // a nop
		if index[h.key]%2 == 1 {
			want = syscall.ETIME
		}
		if err := h.c.Err(); err != want {
			t.Errorf("key %d: result %v, want %v", index[h.key], err, want)
		}
	}
	for i, k := range keys {
		if seen[k] != 1 {
			t.Errorf("key %d (%v): %d completions, want 1", i, k, seen[k])
		}
	}
	runOn(t, l, func() {
		for _, k := range keys {
			if err := l.Release(k); err != nil {
				t.Errorf("Release %v: %v", k, err)
			}
		}
	})
	select {
	case h := <-hits:
		t.Errorf("extra completion %+v", h.c)
	default:
	}
}

// A key released while its operation is in flight never sees that
// operation's completion, and a key registered meanwhile is a different key.
func TestReleaseInFlightSwallowsCompletion(t *testing.T) {
	l := startLoop(t, loop.Config{})
	calls := 0 // loop only
	var old, fresh port.Key
	runOn(t, l, func() {
		var err error
		old, err = l.Register(func(port.Completion) { calls++ })
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Submit(old, port.Timeout(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(old); err != nil {
			t.Fatal(err)
		}
		fresh, err = l.Register(func(port.Completion) {})
		if err != nil {
			t.Fatal(err)
		}
	})
	if fresh == old {
		t.Fatalf("Register after Release returned the released key %v", old)
	}
	waitFor(t, l, "the released operation's final completion", func() bool { return l.Port().InFlight() == 0 })
	runOn(t, l, func() {
		if calls != 0 {
			t.Errorf("released key's callback ran %d times, want 0", calls)
		}
		if err := l.Submit(old, port.Nop()); !errors.Is(err, port.ErrStaleKey) {
			t.Errorf("Submit on released key: %v, want ErrStaleKey", err)
		}
	})
}

// A completion naming an earlier generation of a slot is dropped by the
// map even if it got past the port: the slot's new owner never sees it.
func TestStaleCompletionNeverReachesNewOwner(t *testing.T) {
	l := startLoop(t, loop.Config{})
	runOn(t, l, func() {
		oldCalls, newCalls := 0, 0
		old, _ := l.Register(func(port.Completion) { oldCalls++ })
		l.Release(old)
		fresh, _ := l.Register(func(port.Completion) { newCalls++ })
		if fresh == old {
			t.Fatalf("reused key %v", old)
		}
		l.Dispatch(port.Completion{Key: old})
		l.Dispatch(port.Completion{Key: old + 1<<40})   // a generation never issued
		l.Dispatch(port.Completion{Key: 1<<32 | 1<<20}) // an index never issued
		if oldCalls != 0 || newCalls != 0 {
			t.Errorf("stale completions ran callbacks: old %d, new %d", oldCalls, newCalls)
		}
		l.Dispatch(port.Completion{Key: fresh})
		if newCalls != 1 {
			t.Errorf("completion for the live key ran its callback %d times, want 1", newCalls)
		}
		l.Release(fresh)
	})
}

// Cancelling a pending operation delivers its final completion, ECANCELED,
// to the callback.
func TestCancelDeliversECANCELED(t *testing.T) {
	l := startLoop(t, loop.Config{})
	got := make(chan port.Completion, 2)
	var k port.Key
	runOn(t, l, func() {
		var err error
		k, err = l.Register(func(c port.Completion) { got <- c })
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Submit(k, port.Timeout(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	runOn(t, l, func() {
		if err := l.Cancel(k); err != nil {
			t.Errorf("Cancel: %v", err)
		}
	})
	c := wait(t, got, "the cancelled operation's completion")
	if !errors.Is(c.Err(), syscall.ECANCELED) || c.More() {
		t.Errorf("completion after Cancel: res %d (%v), more %v; want final ECANCELED", c.Res, c.Err(), c.More())
	}
	runOn(t, l, func() {
		// The key is idle again and can carry the next operation.
		if err := l.Submit(k, port.Nop()); err != nil {
			t.Errorf("Submit after the cancelled op completed: %v", err)
		}
	})
	if c := wait(t, got, "the next operation's completion"); c.Res != 0 {
		t.Errorf("nop after cancel: res %d, want 0", c.Res)
	}
	runOn(t, l, func() { l.Release(k) })
}
