package flow

import (
	"context"
)

// flowKey is the context key under which a flow's context carries it.
type flowKey struct{}

// flowCtx is a flow's context: cancelled by Cancel or when the flow ends,
// and carrying the flow, so blocking calls given it (or a context derived
// from it) know which flow to park.
type flowCtx struct {
	context.Context
	f      *Flow
	cancel context.CancelFunc
}

func (c *flowCtx) Value(key any) any {
	if key == (flowKey{}) {
		return c.f
	}
	return c.Context.Value(key)
}

// Context is the flow's context, made on first use: it is cancelled by
// Cancel and when the flow ends, and blocking calls given it (or a
// context derived from it) park this flow.
func (f *Flow) Context() context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx == nil {
		inner, cancel := context.WithCancel(context.Background())
		f.ctx = &flowCtx{Context: inner, f: f, cancel: cancel}
		if f.finished || f.cancelled.Load() {
			cancel()
		}
	}
	return f.ctx
}

// ownContext reports whether ctx is f's own context, which Cancel
// handles without a watcher.
func (f *Flow) ownContext(ctx context.Context) bool {
	c, ok := ctx.(*flowCtx)
	return ok && c.f == f
}

// fromContext returns the flow ctx carries, if any.
func fromContext(ctx context.Context) *Flow {
	switch c := ctx.(type) {
	case nil:
		return nil
	case *flowCtx:
		return c.f
	}
	f, _ := ctx.Value(flowKey{}).(*Flow)
	return f
}
