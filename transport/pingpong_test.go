package transport

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// A cport client and a cport server ping-pong messages of every size class
// through each other's loops.
func TestPingPongBetweenLoops(t *testing.T) {
	for _, size := range []int{64, 16 << 10, 64 << 10, 256 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			e := newEchoPair(t, size)
			p, cl := e.p, e.cl
			e.start(1000)
			select {
			case <-p.done:
			case <-time.After(hangGuard):
				got := make(chan string)
				cl.Post(func() {
					c := p.t.(*conn)
					got <- fmt.Sprintf("left %d got %d state %#x queued %d", p.left, p.got, c.state, c.queuedBytes())
				})
				t.Fatalf("stalled: %s", <-got)
			}
		})
	}
}

// Accepted and dialed TCP connections have Nagle's algorithm off: with it
// on, a request–response exchange of multi-segment messages waits out the
// peer's 40 ms delayed ACK on every message.
func TestTCPNoDelay(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	ln, recs := acceptOne(t, g, nil)
	cg := startGroup(t, 1, loop.Config{})
	dialed, err := Dial(context.Background(), cg.Loops()[0], "tcp", ln.Addr().String(), newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer dialed.Close()
	accepted := (<-recs).waitMade(t)
	for name, tr := range map[string]Transport{"accepted": accepted, "dialed": dialed} {
		v, err := noDelay(int(tr.(*conn).fd))
		if err != nil || v == 0 {
			t.Errorf("%s connection: TCP_NODELAY = %d, %v; want on", name, v, err)
		}
	}
}
