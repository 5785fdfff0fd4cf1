//go:build amd64 || arm64

package loop

import (
	"sync/atomic"
	"testing"
	"unsafe"
)

// getm reads a runtime field by its offset; the probe the loops trust it
// by must accept it on this Go, and must refuse what a moved field would
// read instead: a constant or nil pointer (the same on every thread), and
// a stack address (different in a goroutine and its coroutine). A loop
// whose probe refuses getm still answers InLoop right, by thread id.
func TestGetmProbe(t *testing.T) {
	if !namesThreads(getm) {
		t.Fatal("the probe refuses getm on this Go: the runtime moved g.m, and every loop compares thread ids (slower)")
	}
	if !getmTrusted() {
		t.Fatal("getmTrusted is false while the probe accepts getm")
	}
	var counter atomic.Uintptr
	for name, handle := range map[string]func() uintptr{
		"nil":           func() uintptr { return 0 },
		"constant":      func() uintptr { return 0xc000 },
		"stack address": stackAddress,
		"a new value each call": func() uintptr {
			return counter.Add(1)
		},
	} {
		if namesThreads(handle) {
			t.Errorf("the probe takes %s for a thread's handle", name)
		}
	}
}

// stackAddress returns an address on the caller's stack.
//
//go:noinline
func stackAddress() uintptr {
	var x [8]byte
	return uintptr(unsafe.Pointer(&x))
}

// With getm refused, a loop records no m, and InLoop answers by thread id:
// true on the loop, false elsewhere.
func TestInLoopWithoutGetm(t *testing.T) {
	l, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var m uintptr
	onLoop := make(chan bool, 1)
	if err := l.Post(func() {
		m = l.m.Swap(0) // as if the probe had refused getm
		onLoop <- l.InLoop()
	}); err != nil {
		t.Fatal(err)
	}
	if !<-onLoop {
		t.Error("InLoop on the loop, by thread id = false")
	}
	if l.InLoop() {
		t.Error("InLoop off the loop, by thread id = true")
	}
	l.Post(func() { l.m.Store(m) })
}
