package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/flow"
)

// hangGuard bounds the waits of these tests: reached only when what
// they test is broken.
const hangGuard = 10 * time.Second

// A connection that outlasts the host's own timeout is cut off then,
// with an error that names the timeout.
func TestHandshakesConnectAppliesTimeout(t *testing.T) {
	l := startLoop(t)
	h := NewHandshakes(1)
	var s Session
	var err error
	f := flow.Go(l, func(f *flow.Flow) {
		s, err = h.Connect(f.Context(), 50*time.Millisecond, func(ctx context.Context) (Session, error) {
			if err := flow.Sleep(ctx, hangGuard); err != nil {
				return nil, err
			}
			return &fakeSession{}, nil
		})
	})
	if werr := f.Wait(); werr != nil {
		t.Fatal(werr)
	}
	if s != nil || err == nil {
		t.Fatalf("connected despite a 50ms connect timeout (err %v)", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connect timeout after 50ms") {
		t.Errorf("error %q: want a connect timeout after 50ms wrapping %v", err, context.DeadlineExceeded)
	}
}

// The host's timeout starts once its turn comes: a connection that
// waited for the slot gets a deadline a full timeout after the slot was
// given back, not after the wait began.
func TestHandshakesWaitForTurnNotCounted(t *testing.T) {
	l := startLoop(t)
	h := NewHandshakes(1)
	const timeout = time.Minute
	var (
		releasedAt, deadline time.Time
		hasDeadline          bool
		connectErr           error
		waiter               *flow.Flow
	)
	holder := flow.Go(l, func(f *flow.Flow) {
		_, release, err := h.Turn(f.Context())
		if err != nil {
			connectErr = err
			return
		}
		waiter = flow.Go(l, func(f *flow.Flow) {
			_, connectErr = h.Connect(f.Context(), timeout, func(ctx context.Context) (Session, error) {
				deadline, hasDeadline = ctx.Deadline()
				return &fakeSession{}, nil
			})
		})
		f.Sleep(50 * time.Millisecond) // the waiter is queued for the slot
		releasedAt = time.Now()
		release()
	})
	if err := holder.Wait(); err != nil {
		t.Fatal(err)
	}
	if waiter == nil {
		t.Fatalf("no turn for the first flow: %v", connectErr)
	}
	if err := waiter.Wait(); err != nil {
		t.Fatal(err)
	}
	if connectErr != nil {
		t.Fatal(connectErr)
	}
	if !hasDeadline {
		t.Fatal("the connection ran without the host's timeout")
	}
	if want := releasedAt.Add(timeout); deadline.Before(want) {
		t.Errorf("deadline %v short of a full %v after the slot was given back: the wait for the turn counted",
			want.Sub(deadline), timeout)
	}
}

// A Connect with a context from Turn uses that turn rather than waiting
// for another slot (with one slot it would wait for ever), and the
// turn's release frees the slot once.
func TestHandshakesConnectUsesTurn(t *testing.T) {
	l := startLoop(t)
	h := NewHandshakes(1)
	var err error
	free := -1
	f := flow.Go(l, func(f *flow.Flow) {
		ctx, cancel := context.WithTimeout(f.Context(), hangGuard)
		defer cancel()
		tctx, release, terr := h.Turn(ctx)
		if terr != nil {
			err = terr
			return
		}
		_, err = h.Connect(tctx, 0, func(context.Context) (Session, error) { return &fakeSession{}, nil })
		release()
		release()
		free = h.slots.Free()
	})
	if werr := f.Wait(); werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatalf("connect with a turn: %v", err)
	}
	if free != 1 {
		t.Errorf("%d slots free after the turn was given back (twice), want 1", free)
	}
}
