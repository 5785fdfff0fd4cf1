package flow_test

// The ending test whose point is the peer's reset: Wine does not turn a
// close with SO_LINGER 0 into a reset its peer sees, so it runs on Linux.

import (
	"net"
	"testing"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/internal/streamtest"
)

// The loop closes while a flow's Write is parked: the Write fails, and
// the peer sees a reset or everything.
func TestFlowEndingLoopClose(t *testing.T) {
	eachQueue(t, func(t *testing.T, n int) {
		parked := make(chan struct{})
		addr, done, g := serveOneFlow(t, func(c *flow.Conn) error {
			close(parked)
			_, err := c.Write(endPattern(n + 8<<20))
			return err
		})
		c, err := net.DialTimeout("tcp", addr, hangGuard)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		within(t, parked, "the flow's start")
		closed := make(chan error, 1)
		go func() { closed <- g.Close() }()
		if werr := within(t, done, "the parked Write's end"); werr == nil {
			t.Error("Write returned nil though the loop closed before the peer read anything")
		}
		got, err := streamtest.ReadToEnd(c, hangGuard)
		if err == nil {
			t.Errorf("the peer read %d of %d bytes and a clean end of stream after the loop closed", len(got), n+8<<20)
		}
		within(t, closed, "the loop's Close")
	})
}
