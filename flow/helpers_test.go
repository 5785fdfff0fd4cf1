package flow_test

import (
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/internal/looptest"
	"github.com/cport/cport/loop"
)

// hangGuard bounds every wait in these tests: a guard against a hang, not
// a measure of speed.
const hangGuard = 20 * time.Second

// startLoop starts a loop on the backend CPORT_BACKEND names (the suite
// runs once per backend) and closes it when the test ends.
func startLoop(t testing.TB, cfg loop.Config) *loop.Loop {
	t.Helper()
	looptest.Watch(t)
	l, err := loop.Start(cfg)
	if err != nil {
		t.Fatalf("loop.Start: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// run runs fn as a flow on l and waits for it to end.
func run(t testing.TB, l *loop.Loop, fn func(f *flow.Flow)) {
	t.Helper()
	f := flow.Go(l, fn)
	waitFlow(t, f)
}

// waitFlow waits for f to end, failing the test on a panic or a hang.
func waitFlow(t testing.TB, f *flow.Flow) {
	t.Helper()
	select {
	case <-f.Done():
	case <-time.After(hangGuard):
		t.Fatalf("flow did not end within %v", hangGuard)
	}
	if err := f.Wait(); err != nil {
		t.Fatalf("flow: %v", err)
	}
}

// within fails the test if ch does not deliver within hangGuard.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("%s did not happen within %v", what, hangGuard)
		panic("unreachable")
	}
}
