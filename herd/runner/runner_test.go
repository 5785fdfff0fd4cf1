package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

func startLoop(t testing.TB) *loop.Loop {
	t.Helper()
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatalf("loop.Start: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fakeHost scripts one host of fakeNet.
type fakeHost struct {
	connectFails int           // connection attempts that fail as unreachable
	connectErr   error         // then fail with this, if set
	connectHang  bool          // connect waits for its context
	exit         int           // the command's exit status
	out, errOut  string        // what the command writes
	runFor       time.Duration // how long the command runs; -1 until ctx ends
	unkillable   string        // if set, why the command cannot be killed when ctx ends
}

// fakeNet is a Connector whose hosts behave as scripted; it records what
// happened, on the loop, so the tests need no locks but for the writers.
type fakeNet struct {
	hosts map[string]*fakeHost

	mu       sync.Mutex
	attempts map[string]int
	inFlight int
	maxIn    int
	events   []string
	killed   map[string]bool
	started  chan string // receives each host whose command starts, if set
}

func newFakeNet() *fakeNet {
	return &fakeNet{hosts: map[string]*fakeHost{}, attempts: map[string]int{}, killed: map[string]bool{}}
}

func (n *fakeNet) event(s string) {
	n.mu.Lock()
	n.events = append(n.events, s)
	n.mu.Unlock()
}

func (n *fakeNet) Connect(ctx context.Context, host string) (Session, error) {
	h := n.hosts[host]
	if h == nil {
		h = &fakeHost{}
	}
	n.mu.Lock()
	n.attempts[host]++
	attempt := n.attempts[host]
	n.mu.Unlock()
	if err := flow.Sleep(ctx, time.Millisecond); err != nil {
		return nil, err
	}
	switch {
	case h.connectHang:
		err := flow.Sleep(ctx, time.Hour)
		return nil, fmt.Errorf("handshake: %w", err)
	case attempt <= h.connectFails:
		return nil, errors.New("connection refused")
	case h.connectErr != nil:
		return nil, h.connectErr
	}
	return &fakeSession{n: n, host: host, h: h}, nil
}

type fakeSession struct {
	n    *fakeNet
	host string
	h    *fakeHost
}

func (s *fakeSession) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	n := s.n
	n.mu.Lock()
	n.inFlight++
	n.maxIn = max(n.maxIn, n.inFlight)
	n.mu.Unlock()
	n.event("start " + s.host)
	if n.started != nil {
		n.started <- s.host
	}
	defer func() {
		n.mu.Lock()
		n.inFlight--
		n.mu.Unlock()
		n.event("end " + s.host)
	}()
	io.WriteString(stdout, s.h.out)
	io.WriteString(stderr, s.h.errOut)
	d := s.h.runFor
	if d < 0 {
		d = time.Hour
	}
	if d == 0 {
		d = time.Millisecond
	}
	if err := flow.Sleep(ctx, d); err != nil {
		n.mu.Lock()
		n.killed[s.host] = true
		n.mu.Unlock()
		if s.h.unkillable != "" {
			return -1, &NotKilledError{Cause: err, Why: s.h.unkillable}
		}
		return -1, err
	}
	return s.h.exit, nil
}

func (s *fakeSession) Close() error { return nil }

// recorder is an Output that keeps everything.
type recorder struct {
	mu     sync.Mutex
	starts map[string]int
	done   map[string]Result
	out    map[string]*strings.Builder
}

func newRecorder() *recorder {
	return &recorder{starts: map[string]int{}, done: map[string]Result{}, out: map[string]*strings.Builder{}}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (r *recorder) Start(host string) (io.Writer, io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts[host]++
	b := &strings.Builder{}
	r.out[host] = b
	return lockedWriter{&r.mu, b}, lockedWriter{&r.mu, b}
}

func (r *recorder) Done(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done[res.Host] = res
}

func hostNames(n int) []string {
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%02d", i)
	}
	return hosts
}

func classes(results []Result) map[string]Class {
	m := map[string]Class{}
	for _, r := range results {
		m[r.Host] = r.Class
	}
	return m
}

func TestFanoutBound(t *testing.T) {
	l := startLoop(t)
	n := newFakeNet()
	rec := newRecorder()
	r := New(n, rec, Config{Fanout: 5})
	hosts := hostNames(40)
	for _, h := range hosts {
		n.hosts[h] = &fakeHost{out: "hi " + h + "\n"}
	}
	results, err := r.Run(l, hosts, "true")
	if err != nil {
		t.Fatal(err)
	}
	if n.maxIn != 5 {
		t.Errorf("at most %d commands ran at once, want the fan-out, 5", n.maxIn)
	}
	for i, res := range results {
		if res.Host != hosts[i] || res.Class != OK || res.Exit != 0 || res.Attempts != 1 {
			t.Errorf("result %d = %+v, want %s ok after 1 attempt", i, res, hosts[i])
		}
		if got := rec.out[hosts[i]].String(); got != "hi "+hosts[i]+"\n" {
			t.Errorf("output of %s = %q", hosts[i], got)
		}
		if rec.starts[hosts[i]] != 1 || rec.done[hosts[i]].Class != OK {
			t.Errorf("output saw %d starts and %v for %s", rec.starts[hosts[i]], rec.done[hosts[i]], hosts[i])
		}
	}
	if done, failed, running := r.Progress(); done != 40 || failed != 0 || running != 0 {
		t.Errorf("Progress() = %d, %d, %d; want 40, 0, 0", done, failed, running)
	}
}

func TestClasses(t *testing.T) {
	l := startLoop(t)
	n := newFakeNet()
	n.hosts["ok"] = &fakeHost{}
	n.hosts["fail"] = &fakeHost{exit: 3}
	n.hosts["retried"] = &fakeHost{connectFails: 2}
	n.hosts["down"] = &fakeHost{connectFails: 100}
	n.hosts["auth"] = &fakeHost{connectErr: &ClassError{AuthFailed, errors.New("no key")}}
	n.hosts["key"] = &fakeHost{connectErr: &ClassError{HostKey, errors.New("changed")}}
	n.hosts["hang"] = &fakeHost{connectHang: true}
	n.hosts["slow"] = &fakeHost{runFor: -1}
	r := New(n, nil, Config{Retries: 2, Backoff: time.Millisecond, ConnectTimeout: 50 * time.Millisecond, Timeout: 50 * time.Millisecond})
	results, err := r.Run(l, []string{"ok", "fail", "retried", "down", "auth", "key", "hang", "slow"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		class    Class
		exit     int
		attempts int
	}{
		"ok": {OK, 0, 1}, "fail": {Failed, 3, 1}, "retried": {OK, 0, 3}, "down": {Unreachable, -1, 3},
		"auth": {AuthFailed, -1, 1}, "key": {HostKey, -1, 1}, "hang": {Unreachable, -1, 3}, "slow": {TimedOut, -1, 1},
	}
	for _, res := range results {
		w := want[res.Host]
		if res.Class != w.class || res.Exit != w.exit || res.Attempts != w.attempts {
			t.Errorf("%s: %v exit %d after %d attempts (%v), want %v exit %d after %d",
				res.Host, res.Class, res.Exit, res.Attempts, res.Err, w.class, w.exit, w.attempts)
		}
	}
	if res := results[6]; res.Err == nil || !strings.Contains(res.Err.Error(), "connect timeout") {
		t.Errorf("hang: error %v, want a connect timeout", res.Err)
	}
	if !n.killed["slow"] {
		t.Error("the timed-out command was not stopped")
	}
}

// TestTimeoutNotKilled: a timed-out command its session could not kill
// is still a timeout, and its error says it may still run, and why.
func TestTimeoutNotKilled(t *testing.T) {
	l := startLoop(t)
	n := newFakeNet()
	n.hosts["stuck"] = &fakeHost{runFor: -1, unkillable: "no pid line"}
	results, err := New(n, nil, Config{Timeout: 20 * time.Millisecond}).Run(l, []string{"stuck"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	res := results[0]
	if res.Class != TimedOut || res.Err == nil || !strings.Contains(res.Err.Error(), "may still run on the host: no pid line") {
		t.Errorf("%v (%v), want a timeout saying the command may still run, and why", res.Class, res.Err)
	}
}

func TestBatchesAndMaxFail(t *testing.T) {
	l := startLoop(t)
	n := newFakeNet()
	hosts := hostNames(9)
	n.hosts["h00"] = &fakeHost{exit: 1}
	n.hosts["h04"] = &fakeHost{exit: 1}
	r := New(n, nil, Config{Batch: 3, MaxFail: 2})
	results, err := r.Run(l, hosts, "x")
	if err != nil {
		t.Fatal(err)
	}
	got := classes(results)
	want := map[string]Class{"h00": Failed, "h01": OK, "h02": OK, "h03": OK, "h04": Failed, "h05": OK,
		"h06": Cancelled, "h07": Cancelled, "h08": Cancelled}
	for h, c := range want {
		if got[h] != c {
			t.Errorf("%s: %v, want %v", h, got[h], c)
		}
	}
	// No host of a batch starts before every host of the one before ends.
	ended := 0
	for _, e := range n.events {
		var i int
		if _, err := fmt.Sscanf(e, "start h%d", &i); err == nil && i/3*3 != ended {
			t.Errorf("%s after %d hosts had ended; events %q", e, ended, n.events)
		}
		if strings.HasPrefix(e, "end ") {
			ended++
		}
	}
}

func TestStopAndCancel(t *testing.T) {
	l := startLoop(t)
	n := newFakeNet()
	n.started = make(chan string, 10)
	hosts := hostNames(6)
	for _, h := range hosts {
		n.hosts[h] = &fakeHost{runFor: -1}
	}
	rec := newRecorder()
	r := New(n, rec, Config{Fanout: 2})
	type ran struct {
		results []Result
		err     error
	}
	done := make(chan ran)
	go func() {
		res, err := r.Run(l, hosts, "sleep")
		done <- ran{res, err}
	}()
	<-n.started
	<-n.started
	r.Stop()
	if got := r.Running(); len(got) != 2 {
		t.Errorf("Running() = %q, want the two hosts started", got)
	}
	r.Cancel()
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	for _, res := range out.results {
		if res.Class != Cancelled {
			t.Errorf("%s: %v, want cancelled", res.Host, res.Class)
		}
		if rec.starts[res.Host] != 1 || rec.done[res.Host].Class != Cancelled {
			t.Errorf("%s: output saw %d starts, done %v", res.Host, rec.starts[res.Host], rec.done[res.Host])
		}
	}
	if len(n.killed) != 2 {
		t.Errorf("commands stopped: %v, want the two running", n.killed)
	}
	if len(n.attempts) != 2 {
		t.Errorf("hosts connected: %v, want only the first two", n.attempts)
	}
}
