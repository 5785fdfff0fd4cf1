package port_test

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/port"
)

// The suite runs unchanged on every backend: CI runs it once per value of
// CPORT_BACKEND, which port.Open honours.

// hangLimit bounds how long a test waits for a completion that should
// come. It is a guard against hanging, not a claim about speed.
const hangLimit = 30 * time.Second

// testPort is a port with the test's helpers. Completions that a helper
// collected but was not looking for wait in backlog for the next one.
type testPort struct {
	*port.Port
	t       testing.TB
	backlog []port.Completion
}

// openPort locks the test to its OS thread (io_uring's single-issuer mode
// binds the ring to it), opens a port and closes it when the test ends.
func openPort(t testing.TB, cfg port.Config) *testPort {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	p, err := port.Open(cfg)
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { p.Close() })
	t.Logf("backend %s", p.Backend())
	return &testPort{Port: p, t: t}
}

// register returns a new key.
func (p *testPort) register() port.Key {
	p.t.Helper()
	k, err := p.Register()
	if err != nil {
		p.t.Fatalf("Register: %v", err)
	}
	return k
}

// submit starts op under k.
func (p *testPort) submit(k port.Key, op port.Op) {
	p.t.Helper()
	if err := p.Submit(k, op); err != nil {
		p.t.Fatalf("Submit(%v): %v", k, err)
	}
}

// collect adds the completions of one Wait to the backlog.
func (p *testPort) collect(deadline time.Time) {
	p.t.Helper()
	if time.Now().After(deadline) {
		p.t.Fatalf("no completion within %v; have %v", hangLimit, p.backlog)
	}
	out := make([]port.Completion, 64)
	n, err := p.Wait(out, 100*time.Millisecond)
	if err != nil {
		p.t.Fatalf("Wait: %v", err)
	}
	p.backlog = append(p.backlog, out[:n]...)
}

// waitN returns the next n completions, whatever their keys.
func (p *testPort) waitN(n int) []port.Completion {
	p.t.Helper()
	deadline := time.Now().Add(hangLimit)
	for len(p.backlog) < n {
		p.collect(deadline)
	}
	got := append([]port.Completion(nil), p.backlog[:n]...)
	p.backlog = p.backlog[n:]
	return got
}

// cancelPending starts op, checks it is still pending (a Wait that may
// not sleep returns nothing; why names what it waits for), cancels it and
// expects its completion to carry ECANCELED.
func (p *testPort) cancelPending(what, why string, op port.Op) {
	p.t.Helper()
	k := p.register()
	p.submit(k, op)
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		p.t.Fatalf("Wait(0) = %d, %v; want 0, nil %s", n, err, why)
	}
	if err := p.Cancel(k); err != nil {
		p.t.Fatalf("Cancel: %v", err)
	}
	wantErr(p.t, "cancelled "+what, p.waitKey(k), syscall.ECANCELED)
}

// waitKey returns the next completion for k, keeping others for later.
func (p *testPort) waitKey(k port.Key) port.Completion {
	p.t.Helper()
	deadline := time.Now().Add(hangLimit)
	for {
		for i, c := range p.backlog {
			if c.Key == k {
				p.backlog = append(p.backlog[:i], p.backlog[i+1:]...)
				return c
			}
		}
		p.collect(deadline)
	}
}

// do runs op under a fresh key and returns its single completion.
func (p *testPort) do(op port.Op) port.Completion {
	p.t.Helper()
	k := p.register()
	p.submit(k, op)
	c := p.waitKey(k)
	if c.More() {
		p.t.Fatalf("completion %+v has FlagMore, want a final one", c)
	}
	if err := p.Release(k); err != nil {
		p.t.Fatalf("Release: %v", err)
	}
	return c
}

// drain waits until nothing is in flight, failing on completions for the
// keys in released.
func (p *testPort) drain(released ...port.Key) {
	p.t.Helper()
	deadline := time.Now().Add(hangLimit)
	for p.InFlight() > 0 {
		p.collect(deadline)
	}
	for _, c := range p.backlog {
		for _, k := range released {
			if c.Key == k {
				p.t.Fatalf("completion %+v for released key %v", c, k)
			}
		}
	}
	p.backlog = p.backlog[:0]
}

// wantRes checks a completion's result.
func wantRes(t testing.TB, what string, c port.Completion, want int32) {
	t.Helper()
	if c.Res != want {
		t.Fatalf("%s: result %d (%v), want %d", what, c.Res, c.Err(), want)
	}
}

// wantErr checks that a completion failed with errno want.
func wantErr(t testing.TB, what string, c port.Completion, want syscall.Errno) {
	t.Helper()
	if !errors.Is(c.Err(), want) {
		t.Fatalf("%s: result %d (%v), want %v", what, c.Res, c.Err(), want)
	}
}

func TestNop(t *testing.T) {
	p := openPort(t, port.Config{})
	wantRes(t, "nop", p.do(port.Nop()), 0)
}

func TestNopBatch(t *testing.T) {
	p := openPort(t, port.Config{})
	const n = 100
	keys := map[port.Key]bool{}
	for range n {
		k := p.register()
		keys[k] = true
		p.submit(k, port.Nop())
	}
	out := make([]port.Completion, 2*n)
	got, err := p.Wait(out, -1)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got != n {
		t.Fatalf("one Wait returned %d completions, want all %d nops", got, n)
	}
	for _, c := range out[:got] {
		if !keys[c.Key] || c.Res != 0 || c.More() {
			t.Fatalf("completion %+v, want result 0 for a distinct submitted key", c)
		}
		delete(keys, c.Key)
	}
}

func TestSubmitReleasedKey(t *testing.T) {
	p := openPort(t, port.Config{})
	k := p.register()
	if err := p.Release(k); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := p.Submit(k, port.Nop()); !errors.Is(err, port.ErrStaleKey) {
		t.Fatalf("Submit on a released key: %v, want ErrStaleKey", err)
	}
	if err := p.Release(k); !errors.Is(err, port.ErrStaleKey) {
		t.Fatalf("second Release: %v, want ErrStaleKey", err)
	}
}

func TestTimeout(t *testing.T) {
	p := openPort(t, port.Config{})
	wantErr(t, "timeout", p.do(port.Timeout(time.Millisecond)), syscall.ETIME)
}

func TestTimeoutZero(t *testing.T) {
	p := openPort(t, port.Config{})
	wantErr(t, "timeout 0", p.do(port.Timeout(0)), syscall.ETIME)
}

func TestTimeoutCancel(t *testing.T) {
	p := openPort(t, port.Config{})
	p.cancelPending("timeout", "before the hour is up", port.Timeout(time.Hour))
}

func TestTimeoutsInDeadlineOrder(t *testing.T) {
	p := openPort(t, port.Config{})
	long, short := p.register(), p.register()
	p.submit(long, port.Timeout(time.Hour))
	p.submit(short, port.Timeout(time.Millisecond))
	c := p.waitKey(short)
	wantErr(t, "short timeout", c, syscall.ETIME)
	if err := p.Cancel(long); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantErr(t, "long timeout", p.waitKey(long), syscall.ECANCELED)
}

func TestWakeFromManyGoroutines(t *testing.T) {
	p := openPort(t, port.Config{})
	start := make(chan struct{})
	done := make(chan error, 64)
	for range 64 {
		go func() {
			<-start
			done <- p.Wake()
		}()
	}
	close(start)
	if _, err := p.Wait(make([]port.Completion, 4), -1); err != nil {
		t.Fatalf("Wait(-1) after Wake: %v", err)
	}
	for range 64 {
		if err := <-done; err != nil {
			t.Fatalf("Wake: %v", err)
		}
	}
}

func TestWakeCoalesces(t *testing.T) {
	p := openPort(t, port.Config{})
	out := make([]port.Completion, 4)
	for range 1000 {
		if err := p.Wake(); err != nil {
			t.Fatalf("Wake: %v", err)
		}
	}
	if n, err := p.Wait(out, -1); n != 0 || err != nil {
		t.Fatalf("Wait(-1) after Wake = %d, %v; want 0, nil", n, err)
	}
	if n, err := p.Wait(out, 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) after draining = %d, %v; want 0, nil", n, err)
	}
	// A leaked wake-up would end this Wait before the timeout completes.
	k := p.register()
	p.submit(k, port.Timeout(time.Millisecond))
	if n, err := p.Wait(out, -1); n != 1 || err != nil || out[0].Key != k {
		t.Fatalf("Wait(-1) with a timeout in flight = %d %v, %v; want the timeout's completion", n, out[:n], err)
	}
	wantErr(t, "timeout after coalesced wakes", out[0], syscall.ETIME)
	// And a lost one would leave this Wait blocked.
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	if n, err := p.Wait(out, -1); n != 0 || err != nil {
		t.Fatalf("Wait(-1) after a fresh Wake = %d, %v; want 0, nil", n, err)
	}
}

func TestWakeAfterClose(t *testing.T) {
	p := openPort(t, port.Config{})
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Wake(); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("Wake after Close: %v, want ErrClosed", err)
	}
}

func TestClosedPortRefusesWork(t *testing.T) {
	p := openPort(t, port.Config{})
	k := p.register()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Submit(k, port.Nop()); !errors.Is(err, port.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Register(); !errors.Is(err, port.ErrClosed) {
		t.Errorf("Register after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Wait(make([]port.Completion, 4), 0); !errors.Is(err, port.ErrClosed) {
		t.Errorf("Wait after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); !errors.Is(err, port.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func TestWaitFillsAtMostLenOut(t *testing.T) {
	p := openPort(t, port.Config{})
	const n, room = 100, 7
	keys := map[port.Key]bool{}
	for range n {
		k := p.register()
		keys[k] = true
		p.submit(k, port.Nop())
	}
	out := make([]port.Completion, room)
	deadline := time.Now().Add(hangLimit)
	for len(keys) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d nops still missing", len(keys))
		}
		got, err := p.Wait(out, 100*time.Millisecond)
		if err != nil || got > room {
			t.Fatalf("Wait = %d, %v; want at most %d, nil", got, err, room)
		}
		for _, c := range out[:got] {
			if !keys[c.Key] {
				t.Fatalf("completion %+v for a key not pending", c)
			}
			delete(keys, c.Key)
		}
	}
}

func TestWakeRacingClose(t *testing.T) {
	p := openPort(t, port.Config{})
	stop := make(chan struct{})
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				if err := p.Wake(); err != nil && !errors.Is(err, port.ErrClosed) {
					done <- err
					return
				}
			}
		}()
	}
	p.Wait(make([]port.Completion, 4), -1) // the wakers are running
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(stop)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatalf("Wake during Close: %v, want nil or ErrClosed", err)
		}
	}
}
