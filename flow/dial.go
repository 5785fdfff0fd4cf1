package flow

import (
	"context"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// Dial connects to address ("tcp", "tcp4", "tcp6", "unix") and returns the
// connection, living on loop l. In a flow of any loop it parks the flow
// until the connect completes: a dial holds no thread and no worker, so
// any number may wait at once. From a goroutine it blocks; from a
// callback it fails with ErrNotInFlow. ctx bounds the whole dial (and the
// flow's Cancel ends it too).
func Dial(ctx context.Context, l *loop.Loop, network, address string) (*Conn, error) {
	c := newConn(streamNet(network))
	cur := loop.Current()
	if cur == nil {
		if _, err := transport.Dial(ctx, l, network, address, c); err != nil {
			return nil, err
		}
		return c, nil
	}
	f := caller(ctx, cur)
	if f == nil {
		return nil, ErrNotInFlow
	}
	if err := f.check(ctx, true); err != nil {
		return nil, err
	}
	dctx := f.Context()
	if ctx != nil && !f.ownContext(ctx) {
		var stop context.CancelFunc
		dctx, stop = mergeCancel(ctx, dctx)
		defer stop()
	}
	signal := f.expectSignal()
	var err error
	transport.DialAsync(dctx, l, network, address, c, func(_ transport.Transport, derr error) {
		err = derr
		_ = f.l.Post(signal) // err is read by the flow after the wake-up
	})
	// The dial's context carries every way to give up, so the flow waits
	// for its one answer, whatever comes.
	f.parkUntilSignalled()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// mergeCancel returns a context with a's values and deadline that also
// ends when b does.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(a)
	stop := context.AfterFunc(b, func() { cancel(context.Cause(b)) })
	return ctx, func() { stop(); cancel(nil) }
}

func streamNet(network string) string {
	if network == "unix" {
		return "unix"
	}
	return "tcp"
}
