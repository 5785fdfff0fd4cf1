package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cport/cport/flow"
)

// queuedNet is a fakeNet whose connections take turns, one at a time,
// each holding its turn for hold.
type queuedNet struct {
	*fakeNet
	turns *flow.Semaphore
	hold  time.Duration
	taken int // turns taken and given back
}

type fakeTurnKey struct{}

func (q *queuedNet) Turn(ctx context.Context) (context.Context, func(), error) {
	if err := q.turns.Acquire(ctx); err != nil {
		return nil, nil, err
	}
	return context.WithValue(ctx, fakeTurnKey{}, true), func() { q.taken++; q.turns.Release() }, nil
}

func (q *queuedNet) Connect(ctx context.Context, host string) (Session, error) {
	if ctx.Value(fakeTurnKey{}) == nil {
		return nil, &ClassError{Class: Error, Err: errors.New("Connect without a turn")}
	}
	if err := flow.Sleep(ctx, q.hold); err != nil {
		return nil, err
	}
	return q.fakeNet.Connect(ctx, host)
}

// The wait for a Queued connector's turn is not connection time: five
// hosts, one turn at a time, each connection 100 ms of a 300 ms connect
// timeout, all connect; and each turn is given back.
func TestQueuedWaitNotConnectTime(t *testing.T) {
	l := startLoop(t)
	q := &queuedNet{fakeNet: newFakeNet(), turns: flow.NewSemaphore(1), hold: 100 * time.Millisecond}
	hosts := []string{"a", "b", "c", "d", "e"}
	results, err := New(q, nil, Config{Fanout: len(hosts), ConnectTimeout: 300 * time.Millisecond, Retries: -1}).Run(l, hosts, "true")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Class != OK {
			t.Errorf("%s: %v: %v; want ok", r.Host, r.Class, r.Err)
		}
	}
	if q.taken != len(hosts) {
		t.Errorf("%d turns given back, want %d", q.taken, len(hosts))
	}
}
