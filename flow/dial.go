package flow

import (
	"context"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// Dial connects to address ("tcp", "tcp4", "tcp6", "unix") and returns the
// connection, living on loop l. In a flow (ctx is its context or derived
// from it, or the flow runs on l) it parks the flow while a pool worker
// resolves the name and waits for the connection; from a goroutine it
// blocks. ctx bounds the whole dial.
func Dial(ctx context.Context, l *loop.Loop, network, address string) (*Conn, error) {
	c := newConn(streamNet(network))
	f := caller(ctx, l)
	if f == nil {
		if l.InLoop() {
			return nil, ErrNotInFlow
		}
		if _, err := transport.Dial(ctx, l, network, address, c); err != nil {
			return nil, err
		}
		return c, nil
	}
	var t transport.Transport
	err := defaultPool.run(f, ctx, func(jctx context.Context) error {
		var err error
		t, err = transport.Dial(jctx, l, network, address, c)
		return err
	}, func() {
		if t != nil {
			t.Abort() // the flow gave up waiting: nobody will use it
		}
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func streamNet(network string) string {
	if network == "unix" {
		return "unix"
	}
	return "tcp"
}
