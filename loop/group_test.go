package loop_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/cport/cport/loop"
)

// Next hands out the group's loops in turn, also to concurrent callers.
func TestGroupRoundRobin(t *testing.T) {
	g, err := loop.NewGroup(3, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	loops := g.Loops()
	if len(loops) != 3 {
		t.Fatalf("%d loops, want 3", len(loops))
	}
	for i := range 7 {
		if got := g.Next(); got != loops[i%3] {
			t.Errorf("Next #%d = loop %p, want loop %d", i, got, i%3)
		}
	}
	counts := make(map[*loop.Loop]int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 {
				l := g.Next()
				mu.Lock()
				counts[l]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i, l := range loops {
		if c := counts[l]; c != 800 {
			t.Errorf("loop %d picked %d times of 2400, want 800", i, c)
		}
	}
}

// Each loop of a group runs on its own goroutine with its own port, and
// Close closes them all.
func TestGroupLoopsAreIndependent(t *testing.T) {
	g, err := loop.NewGroup(0, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	loops := g.Loops()
	if len(loops) != runtime.GOMAXPROCS(0) {
		t.Errorf("NewGroup(0) started %d loops, want GOMAXPROCS = %d", len(loops), runtime.GOMAXPROCS(0))
	}
	for i, l := range loops {
		runOn(t, l, func() {
			for j, o := range loops {
				if o.InLoop() != (i == j) {
					t.Errorf("loop %d: loops[%d].InLoop() = %v", i, j, o.InLoop())
				}
			}
			if l.Port() == nil {
				t.Errorf("loop %d has no port", i)
			}
		})
	}
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, l := range loops {
		select {
		case <-l.Done():
		default:
			t.Errorf("loop %d still running after the group's Close", i)
		}
	}
}
