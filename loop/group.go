package loop

import (
	"errors"
	"runtime"
	"sync/atomic"
)

// Group is a set of loops, each with its own goroutine, thread and port,
// over which connections are spread.
type Group struct {
	loops []*Loop
	next  atomic.Uint32
}

// NewGroup starts n loops with cfg (n <= 0: one per GOMAXPROCS). If one
// fails to start, those already running are closed.
func NewGroup(n int, cfg Config) (*Group, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{loops: make([]*Loop, 0, n)}
	for range n {
		l, err := Start(cfg)
		if err != nil {
			return nil, errors.Join(err, g.Close())
		}
		g.loops = append(g.loops, l)
	}
	return g, nil
}

// Loops lists the group's loops; the slice must not be modified.
func (g *Group) Loops() []*Loop { return g.loops }

// Next picks a loop round-robin, from any goroutine.
func (g *Group) Next() *Loop {
	i := g.next.Add(1) - 1
	return g.loops[i%uint32(len(g.loops))]
}

// Close closes every loop and returns their errors joined. The loops are
// all asked to stop first, so they drain in parallel.
func (g *Group) Close() error {
	for _, l := range g.loops {
		l.Stop()
	}
	var errs []error
	for _, l := range g.loops {
		if err := l.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
