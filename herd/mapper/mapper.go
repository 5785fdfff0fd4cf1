// Package mapper spreads many jobs over a set of hosts, as GNU parallel
// does with --sshlogin: each host runs a few jobs at a time (its slots),
// each slot a session of its own through a runner.Connector (SSH or
// herd agents), taking the next job as it finishes one. A host that
// fails (cannot be reached, or loses its connection mid-job) takes no
// more jobs, and the job it held is given to another host; a job that
// runs and fails is not retried. All of it runs as flows of one loop.
package mapper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// Job is one command to run somewhere.
type Job struct {
	Seq     int    // 1-based, in input order
	Arg     string // the input line it was made from
	Command string
}

// Result is how a job ended.
type Result struct {
	Job
	Host     string // where it ran (last), "" if nowhere
	Tried    []string
	Start    time.Time
	Duration time.Duration
	Exit     int  // -1 when it did not run to an exit status
	TimedOut bool // killed at the timeout
	Err      error
	Stdout   []byte
	Stderr   []byte
}

// OK reports whether the job ran and exited 0.
func (r *Result) OK() bool { return r.Err == nil && r.Exit == 0 }

// Ran reports whether the job ran to an end of its own (an exit status or
// its timeout), rather than finding no host.
func (r *Result) Ran() bool { return r.Exit >= 0 || r.TimedOut }

// HostFailure is why a host stopped taking jobs.
type HostFailure struct {
	Host string
	Err  error
}

// Config sets how jobs are spread. Zero fields take the defaults.
type Config struct {
	Slots          int           // jobs at once per host; default 1
	Timeout        time.Duration // per job; 0 means none
	ConnectTimeout time.Duration // per connection attempt; default 10 s
	Retries        int           // further connection attempts per slot
	Backoff        time.Duration // before the first retry, doubling; default 500 ms
	// Done, if set, hears of each job as it ends (on the loop: it must
	// not block for long).
	Done func(Result)
}

// ErrNoHost is the error of jobs left when every host has failed.
var ErrNoHost = errors.New("no host left to run it")

// mapper is one Run's state, owned by the loop's flows.
type mapper struct {
	cfg     Config
	conn    runner.Connector
	jobs    []Job
	results []Result

	mu       flow.Mutex
	more     *flow.Cond // a job was queued, or the run ended
	pending  []int      // job indices, next first
	inflight int
	alive    int // hosts that may still take jobs
	failures []HostFailure
	stopped  bool
}

// Run runs jobs over hosts through c on l and returns their results, in
// job order, and the hosts that failed. It blocks the calling goroutine,
// which must not be l's. Cancelling ctx kills the running jobs.
func Run(ctx context.Context, l *loop.Loop, c runner.Connector, hosts []string, jobs []Job, cfg Config) ([]Result, []HostFailure, error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("mapper: no hosts")
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 1
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	m := &mapper{cfg: cfg, conn: c, jobs: jobs, results: make([]Result, len(jobs)), alive: len(hosts)}
	m.more = flow.NewCond(&m.mu)
	for i, j := range jobs {
		m.results[i] = Result{Job: j, Exit: -1}
		m.pending = append(m.pending, i)
	}
	main := flow.Go(l, func(f *flow.Flow) {
		g := flow.NewGroup(f)
		// Cancelling the slots kills their running jobs.
		stop := context.AfterFunc(ctx, func() { l.Post(g.Cancel) })
		defer stop()
		for _, h := range hosts {
			hs := &host{name: h}
			for range cfg.Slots {
				g.Go(func(wf *flow.Flow) error {
					m.slot(wf, hs)
					return nil
				})
			}
		}
		g.Wait(f.Context())
		// Jobs no host took.
		for _, i := range m.pending {
			m.finish(i, func(r *Result) { r.Err = ErrNoHost })
		}
		m.pending = nil
	})
	if err := main.Wait(); err != nil {
		return m.results, m.failures, err
	}
	return m.results, m.failures, ctx.Err()
}

// host is one host's state, shared by its slots.
type host struct {
	name string
	dead bool
	err  error
}

// fail marks h failed, once, and ends the run if no host is left.
func (m *mapper) fail(h *host, err error) {
	if h.dead {
		return
	}
	h.dead, h.err = true, err
	m.failures = append(m.failures, HostFailure{Host: h.name, Err: err})
	m.alive--
	if m.alive == 0 {
		m.stopped = true
	}
	m.more.Broadcast()
}

// next waits for a job for a slot of h; ok is false when there is none
// left for it.
func (m *mapper) next(f *flow.Flow, h *host) (int, bool) {
	if err := m.mu.Lock(context.WithoutCancel(f.Context())); err != nil {
		return 0, false
	}
	defer m.mu.Unlock()
	for {
		if h.dead || m.stopped || f.Cancelled() {
			return 0, false
		}
		if len(m.pending) > 0 {
			i := m.pending[0]
			m.pending = m.pending[1:]
			m.inflight++
			return i, true
		}
		if m.inflight == 0 {
			return 0, false // all done: nothing can come back
		}
		// A running job may come back from a host that fails.
		m.more.Wait(f.Context())
	}
}

// requeue gives job i back, first in line, for another host.
func (m *mapper) requeue(i int) {
	m.inflight--
	m.pending = append([]int{i}, m.pending...)
	m.more.Broadcast()
}

// done records job i's end.
func (m *mapper) done(i int, fill func(*Result)) {
	m.inflight--
	m.finish(i, fill)
	if m.inflight == 0 && len(m.pending) == 0 {
		m.more.Broadcast() // the waiting slots may go
	}
}

func (m *mapper) finish(i int, fill func(*Result)) {
	r := &m.results[i]
	fill(r)
	if m.cfg.Done != nil {
		m.cfg.Done(*r)
	}
}

// slot is one of a host's job runners: one session, jobs one by one.
func (m *mapper) slot(f *flow.Flow, h *host) {
	s, err := m.connect(f, h.name)
	if err != nil {
		if !f.Cancelled() {
			m.fail(h, err)
		}
		return
	}
	defer s.Close()
	for {
		i, ok := m.next(f, h)
		if !ok {
			return
		}
		if !m.run(f, h, s, i) {
			return // the session is lost: so is this slot
		}
	}
}

// run runs job i on s; false means the host failed and the job went back.
func (m *mapper) run(f *flow.Flow, h *host, s runner.Session, i int) bool {
	j := m.jobs[i]
	ctx, cancel := f.Context(), context.CancelFunc(func() {})
	if m.cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, m.cfg.Timeout)
	}
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	exit, err := s.Run(ctx, j.Command, &syncWriter{b: &stdout}, &syncWriter{b: &stderr})
	dur := time.Since(start)
	timedOut := m.cfg.Timeout > 0 && !f.Cancelled() && (errors.Is(err, context.DeadlineExceeded) || expired(ctx))
	switch {
	case err != nil && !timedOut && !f.Cancelled():
		// The host, not the job, failed: another host gets the job.
		m.results[i].Tried = append(m.results[i].Tried, h.name)
		m.fail(h, fmt.Errorf("while running job %d: %w", j.Seq, err))
		m.requeue(i)
		return false
	}
	m.done(i, func(r *Result) {
		r.Host, r.Tried = h.name, append(r.Tried, h.name)
		r.Start, r.Duration = start, dur
		r.Stdout, r.Stderr = stdout.Bytes(), stderr.Bytes()
		r.Exit, r.Err = exit, err
		if timedOut {
			r.Exit, r.TimedOut, r.Err = -1, true, fmt.Errorf("timed out after %v", m.cfg.Timeout)
		}
	})
	return err == nil || timedOut
}

// connect opens a session to host with retries and backoff.
func (m *mapper) connect(f *flow.Flow, name string) (runner.Session, error) {
	backoff := m.cfg.Backoff
	for attempt := 0; ; attempt++ {
		s, err := runner.Connect(f.Context(), m.conn, name, m.cfg.ConnectTimeout)
		if err == nil {
			return s, nil
		}
		if f.Cancelled() || runner.Classify(err) != runner.Unreachable || attempt >= m.cfg.Retries {
			return nil, err
		}
		if f.Sleep(backoff) != nil {
			return nil, err
		}
		backoff *= 2
	}
}

func expired(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
