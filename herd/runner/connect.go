package runner

import (
	"context"
	"time"
)

// Queued is implemented by a Connector whose connections wait their turn
// for something scarce before they start (packages herd/agentconn and
// herd/sshsession bound the TLS and SSH handshakes in flight with
// Handshakes). The wait is not connection time: a host that waits behind
// slow ones must not time out for it, so Connect waits for the turn under
// the run's context alone, and the connect timeout starts once the turn
// is taken.
type Queued interface {
	Connector
	// Turn waits until a connection may start. It returns ctx marked as
	// holding the turn, from which to derive the context of the Connect
	// that uses it, and the function that gives the turn back, to call
	// once that Connect has returned.
	Turn(ctx context.Context) (context.Context, func(), error)
}

// Connect opens a session to host through c, giving the connection
// timeout to connect; a Queued connector's wait for its turn comes first
// and does not count. A connection that runs out of time returns an
// error saying so, wrapping c's.
func Connect(ctx context.Context, c Connector, host string, timeout time.Duration) (Session, error) {
	if q, ok := c.(Queued); ok {
		tctx, release, err := q.Turn(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		ctx = tctx
	}
	return withConnectTimeout(ctx, timeout, func(ctx context.Context) (Session, error) {
		return c.Connect(ctx, host)
	})
}
