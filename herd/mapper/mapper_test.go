package mapper_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/herd/mapper"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// fakeNet's hosts: "down*" cannot be reached; "flaky*" lose their
// connection in their first job; the others echo the command, and
// "hang*" hang until their context ends.
type fakeNet struct {
	mu      sync.Mutex
	running map[string]int // jobs running per host now
	peak    map[string]int
}

func newFakeNet() *fakeNet { return &fakeNet{running: map[string]int{}, peak: map[string]int{}} }

func (n *fakeNet) Connect(ctx context.Context, host string) (runner.Session, error) {
	if strings.HasPrefix(host, "down") {
		return nil, fmt.Errorf("%s: connection refused", host)
	}
	return &fakeSession{n: n, host: host}, nil
}

type fakeSession struct {
	n    *fakeNet
	host string
}

func (s *fakeSession) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	s.n.mu.Lock()
	s.n.running[s.host]++
	s.n.peak[s.host] = max(s.n.peak[s.host], s.n.running[s.host])
	s.n.mu.Unlock()
	defer func() {
		s.n.mu.Lock()
		s.n.running[s.host]--
		s.n.mu.Unlock()
	}()
	// Let the other slots start: their overlap is what the test counts.
	// "sleep N" takes N ms more.
	pause := time.Millisecond
	if ms, ok := strings.CutPrefix(cmd, "sleep "); ok {
		n, _ := strconv.Atoi(ms)
		pause += time.Duration(n) * time.Millisecond
	}
	if err := flow.Sleep(ctx, pause); err != nil {
		return -1, err
	}
	switch {
	case strings.HasPrefix(s.host, "flaky"):
		return -1, &runner.ClassError{Class: runner.Error, Err: errors.New("connection lost")}
	case strings.HasPrefix(s.host, "hang"):
		err := flow.Sleep(ctx, time.Hour) // parks the flow; a channel wait would block its loop
		return -1, err
	case strings.Contains(cmd, "fail"):
		fmt.Fprintln(stderr, "failing")
		return 3, nil
	}
	fmt.Fprintf(stdout, "%s ran %s\n", s.host, cmd)
	return 0, nil
}

func (s *fakeSession) Close() error { return nil }

func jobs(n int) []mapper.Job {
	var js []mapper.Job
	for i := 1; i <= n; i++ {
		js = append(js, mapper.Job{Seq: i, Arg: fmt.Sprint(i), Command: fmt.Sprintf("job %d", i)})
	}
	return js
}

func startLoop(t *testing.T) *loop.Loop {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestSpreadWithSlots(t *testing.T) {
	l := startLoop(t)
	n := newFakeNet()
	var doneCount int
	res, failures, err := mapper.Run(context.Background(), l, n, []string{"a", "b"}, jobs(20),
		mapper.Config{Slots: 3, Done: func(mapper.Result) { doneCount++ }})
	if err != nil || len(failures) != 0 {
		t.Fatalf("Run: %v, failures %v", err, failures)
	}
	hosts := map[string]int{}
	for i, r := range res {
		if r.Seq != i+1 || !r.OK() || string(r.Stdout) != fmt.Sprintf("%s ran job %d\n", r.Host, r.Seq) {
			t.Errorf("job %d: %+v", i+1, r)
		}
		hosts[r.Host]++
	}
	if doneCount != 20 || hosts["a"] == 0 || hosts["b"] == 0 {
		t.Errorf("%d jobs reported done; spread %v", doneCount, hosts)
	}
	for h, p := range n.peak {
		if p > 3 {
			t.Errorf("host %s ran %d jobs at once, more than its 3 slots", h, p)
		}
	}
	if n.peak["a"] < 2 {
		t.Errorf("host a never ran two jobs at once (peak %d) with 3 slots", n.peak["a"])
	}
}

// A host that cannot be reached takes no job; one that fails mid-job
// gives its job to another host; a job that fails is not retried.
func TestHostFailuresMoveJobs(t *testing.T) {
	l := startLoop(t)
	js := jobs(10)
	js[4].Command = "fail 5"
	res, failures, err := mapper.Run(context.Background(), l, newFakeNet(), []string{"down1", "flaky1", "ok1"}, js, mapper.Config{Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range failures {
		failed[f.Host] = true
	}
	if len(failures) != 2 || !failed["down1"] || !failed["flaky1"] {
		t.Fatalf("failures %v, want down1 and flaky1", failures)
	}
	moved := 0
	for _, r := range res {
		if r.Host != "ok1" {
			t.Errorf("job %d ran on %q", r.Seq, r.Host)
		}
		if len(r.Tried) > 1 {
			moved++
			if r.Tried[0] != "flaky1" {
				t.Errorf("job %d tried %v", r.Seq, r.Tried)
			}
		}
		if r.Seq == 5 && (r.Exit != 3 || strings.Count(strings.Join(r.Tried, " "), "ok1") != 1) {
			t.Errorf("failing job: exit %d, tried %v; want exit 3, run once on ok1", r.Exit, r.Tried)
		}
	}
	if moved == 0 {
		t.Error("no job moved from the flaky host")
	}
}

func TestNoHostLeft(t *testing.T) {
	l := startLoop(t)
	res, failures, err := mapper.Run(context.Background(), l, newFakeNet(), []string{"down1", "flaky1"}, jobs(3), mapper.Config{})
	if err != nil || len(failures) != 2 {
		t.Fatalf("Run: %v, failures %v", err, failures)
	}
	for _, r := range res {
		if !errors.Is(r.Err, mapper.ErrNoHost) || r.Ran() {
			t.Errorf("job %d: %+v, want no host left", r.Seq, r)
		}
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	l := startLoop(t)
	res, _, err := mapper.Run(context.Background(), l, newFakeNet(), []string{"hang1"}, jobs(2), mapper.Config{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.TimedOut || r.Host != "hang1" {
			t.Errorf("job %d: %+v, want timed out on hang1", r.Seq, r)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err = mapper.Run(ctx, l, newFakeNet(), []string{"hang1"}, jobs(2), mapper.Config{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Run: %v", err)
	}
}

// Through InOrder, Done hears of the jobs in their order, though later
// jobs end first; without it, in the order they end.
func TestInOrder(t *testing.T) {
	l := startLoop(t)
	js := jobs(8)
	for i := range js {
		js[i].Command = fmt.Sprintf("sleep %d", 10*(len(js)-i)) // the last ends first
	}
	for _, keep := range []bool{true, false} {
		var told []int
		done := func(r mapper.Result) { told = append(told, r.Seq) }
		if keep {
			done = mapper.InOrder(js, done)
		}
		res, _, err := mapper.Run(context.Background(), l, newFakeNet(), []string{"a"}, js,
			mapper.Config{Slots: len(js), Done: done})
		if err != nil || len(told) != len(js) {
			t.Fatalf("in order %v: %v, Done heard %v", keep, err, told)
		}
		inOrder := true
		for i, seq := range told {
			inOrder = inOrder && seq == i+1 && res[i].OK()
		}
		if inOrder != keep {
			t.Errorf("in order %v: Done heard jobs %v", keep, told)
		}
	}
}

// queuedNet is a fakeNet whose connections take turns, one at a time,
// each holding its turn for hold (as agentconn's handshake slots do).
type queuedNet struct {
	*fakeNet
	turns *flow.Semaphore
	hold  time.Duration
}

type turnKey struct{}

func (q *queuedNet) Turn(ctx context.Context) (context.Context, func(), error) {
	if err := q.turns.Acquire(ctx); err != nil {
		return nil, nil, err
	}
	return context.WithValue(ctx, turnKey{}, true), q.turns.Release, nil
}

func (q *queuedNet) Connect(ctx context.Context, host string) (runner.Session, error) {
	if ctx.Value(turnKey{}) == nil {
		return nil, &runner.ClassError{Class: runner.Error, Err: errors.New("Connect without a turn")}
	}
	if err := flow.Sleep(ctx, q.hold); err != nil {
		return nil, err
	}
	return q.fakeNet.Connect(ctx, host)
}

// Slots waiting for their connection's turn do not time out: six slots,
// one connection at a time, each 100 ms of a 300 ms connect timeout.
func TestQueuedConnectWait(t *testing.T) {
	l := startLoop(t)
	q := &queuedNet{fakeNet: newFakeNet(), turns: flow.NewSemaphore(1), hold: 100 * time.Millisecond}
	res, failures, err := mapper.Run(context.Background(), l, q, []string{"a", "b", "c"}, jobs(12),
		mapper.Config{Slots: 2, ConnectTimeout: 300 * time.Millisecond})
	if err != nil || len(failures) != 0 {
		t.Fatalf("Run: %v, failures %v", err, failures)
	}
	for _, r := range res {
		if !r.OK() {
			t.Errorf("job %d: %+v", r.Seq, r)
		}
	}
}
