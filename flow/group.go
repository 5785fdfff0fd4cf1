package flow

import "context"

// Group runs child flows as one task (a trio nursery, an errgroup): the
// first child to fail cancels the others, and Wait waits for all of them
// and returns that first error. Children run on the loop of the flow that
// made the group.
type Group struct {
	parent   *Flow
	children []*Flow
	left     int
	err      error
	waiters  waitq
}

// NewGroup returns a group whose children run on f's loop.
func NewGroup(f *Flow) *Group { return &Group{parent: f} }

// Go starts fn as a child flow. A non-nil error, or a panic, from any
// child cancels all of them.
func (g *Group) Go(fn func(f *Flow) error) {
	g.left++
	child := Go(g.parent.l, func(f *Flow) {
		defer g.childDone()
		if err := fn(f); err != nil {
			g.fail(err)
		}
	})
	if g.err != nil {
		child.Cancel()
	}
	g.children = append(g.children, child)
}

func (g *Group) childDone() {
	if v := recover(); v != nil {
		g.fail(&PanicError{Value: v})
		g.left--
		g.wakeIfDone()
		panic(v) // reported by the flow like any other panic
	}
	g.left--
	g.wakeIfDone()
}

func (g *Group) wakeIfDone() {
	if g.left == 0 {
		g.waiters.wakeAll(nil)
	}
}

// fail records the first error and cancels every child.
func (g *Group) fail(err error) {
	if g.err != nil {
		return
	}
	g.err = err
	g.Cancel()
}

// Cancel cancels every child.
func (g *Group) Cancel() {
	for _, c := range g.children {
		c.Cancel()
	}
}

// Wait parks the flow until every child has ended and returns the first
// error. If ctx ends first, the children are cancelled and still waited
// for, so none outlives the group; ctx's error is returned unless a child
// failed first.
func (g *Group) Wait(ctx context.Context) error {
	f := caller(ctx, g.parent.l)
	if f == nil {
		return ErrNotInFlow
	}
	if g.left > 0 {
		err := f.check(ctx, true)
		if err == nil {
			err = f.park(ctx, &g.waiters, cancellable)
		}
		if err != nil {
			if g.err == nil {
				g.err = err
			}
			g.Cancel()
			for g.left > 0 {
				_ = f.park(noCtx, &g.waiters, uncancellable)
			}
		}
	}
	return g.err
}
