package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/cport/cport/flow"
)

// Handshakes bounds the connections of one Connector being set up at
// once, for a Connector that is Queued: its Turn is h.Turn and its
// Connect opens the connection through h.Connect. Packages
// herd/agentconn and herd/sshsession use it for their TLS and SSH
// handshakes. Its methods are called from flows of one loop.
type Handshakes struct {
	slots *flow.Semaphore
}

// NewHandshakes returns a bound of n connections being set up at once.
func NewHandshakes(n int) *Handshakes {
	return &Handshakes{slots: flow.NewSemaphore(n)}
}

// turnKey marks a context whose flow holds a slot of the Handshakes it
// maps to (Turn).
type turnKey struct{}

// Turn waits for a slot, as Queued.Turn: a Connect with the returned
// context (or one derived from it) uses the slot; release gives it back.
func (h *Handshakes) Turn(ctx context.Context) (context.Context, func(), error) {
	if err := h.slots.Acquire(ctx); err != nil {
		return nil, nil, fmt.Errorf("waiting for a handshake slot: %w", err)
	}
	released := false
	return context.WithValue(ctx, turnKey{}, h), func() {
		if !released { // on the flow that took it: no lock needed
			released = true
			h.slots.Release()
		}
	}, nil
}

// Connect runs connect holding a slot: ctx's own if ctx comes from Turn,
// else one it waits for first. The host's own connect timeout, if
// timeout > 0 and it ends before ctx does, starts once the slot is held,
// and an error that connect returns because it ran out says so.
func (h *Handshakes) Connect(ctx context.Context, timeout time.Duration, connect func(context.Context) (Session, error)) (Session, error) {
	if ctx.Value(turnKey{}) != h {
		if err := h.slots.Acquire(ctx); err != nil {
			return nil, fmt.Errorf("waiting for a handshake slot: %w", err)
		}
		defer h.slots.Release()
	}
	return withConnectTimeout(ctx, timeout, connect)
}

// withConnectTimeout runs connect under ctx shortened to timeout, unless
// timeout is 0 or ctx ends first anyway. An error that connect returns
// because the timeout ran out says so, wrapping connect's.
func withConnectTimeout(ctx context.Context, timeout time.Duration, connect func(context.Context) (Session, error)) (Session, error) {
	if d, ok := ctx.Deadline(); timeout <= 0 || ok && time.Until(d) <= timeout {
		return connect(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := connect(cctx)
	if err != nil && expired(cctx) && ctx.Err() == nil {
		err = fmt.Errorf("connect timeout after %v: %w", timeout, err)
	}
	return s, err
}
