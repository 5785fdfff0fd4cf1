// Package runner runs one command on many hosts from one process: each host
// is a flow on a cport loop, and a bounded number of them (the fan-out)
// hold a connection at once, however many hosts there are.
//
// The runner knows hosts only through Connector and Session, so the SSH
// implementation (package herd/sshsession) and the mTLS agents' (package
// herd/agentconn) plug in the same way, and tests use a fake. A
// connector whose connections queue for a turn (Queued) has the wait kept
// out of the connect timeout.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// Connector opens sessions to hosts.
type Connector interface {
	// Connect opens a session to host, a node name such as
	// "user@web01:2222". ctx carries the connect timeout and the calling
	// flow: an implementation blocks through flow calls on it (flow.Dial,
	// flow.Blocking), never on its loop's thread.
	Connect(ctx context.Context, host string) (Session, error)
}

// Session is an open connection to one host.
type Session interface {
	// Run runs cmd and returns its exit status. Output goes to stdout and
	// stderr, which may be written from other goroutines. When ctx ends
	// first, Run must stop the remote command (not leave it running) and
	// return ctx's error.
	Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (exit int, err error)
	// Close ends the session.
	Close() error
}

// Class is how a host ended.
type Class uint8

// The classes, from best to worst; the command's exit codes follow them.
const (
	OK          Class = iota // ran and exited 0
	Failed                   // ran and exited non-zero, or was killed by a signal
	TimedOut                 // the command outlived --timeout and was killed
	Unreachable              // no connection within the connect timeout and retries
	AuthFailed               // the host refused every credential
	HostKey                  // the host key is unknown or changed
	Error                    // anything else: a protocol or local error
	Cancelled                // stopped by the user, or never started
)

var classNames = [...]string{"ok", "failed", "timeout", "unreachable", "auth", "hostkey", "error", "cancelled"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// MarshalText writes the class's name, for JSON.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a class's name.
func (c *Class) UnmarshalText(b []byte) error {
	for i, n := range classNames {
		if n == string(b) {
			*c = Class(i)
			return nil
		}
	}
	return fmt.Errorf("herd/runner: unknown class %q", b)
}

// ClassError is an error a Connector or Session returns to say how to
// classify it; connection errors without one count as Unreachable.
type ClassError struct {
	Class Class
	Err   error
}

func (e *ClassError) Error() string { return e.Err.Error() }
func (e *ClassError) Unwrap() error { return e.Err }

// NotKilledError is a Session.Run's error when its context ended (Cause)
// and the command could not be killed: it may still run on its host.
type NotKilledError struct {
	Cause error
	Why   string // why it could not be killed
}

func (e *NotKilledError) Error() string {
	return e.Cause.Error() + "; the command may still run on the host: " + e.Why
}
func (e *NotKilledError) Unwrap() error { return e.Cause }

// Classify returns the class of err as a connection error.
func Classify(err error) Class {
	var ce *ClassError
	if errors.As(err, &ce) {
		return ce.Class
	}
	if errors.Is(err, context.Canceled) {
		return Cancelled
	}
	return Unreachable
}

// Result is how one host's run ended.
type Result struct {
	Host     string
	Class    Class
	Exit     int // valid for OK and Failed; -1 otherwise
	Err      error
	Start    time.Time
	Duration time.Duration
	Attempts int // connection attempts made
}

// Output receives each host's output. Its methods are called from flows and
// its writers from any goroutine: they must not block for long.
type Output interface {
	// Start returns where host's output goes.
	Start(host string) (stdout, stderr io.Writer)
	// Done reports host's result once its writers are no longer used.
	Done(r Result)
}

// Config sets how a run goes. Zero fields take the defaults.
type Config struct {
	Fanout         int           // hosts in flight at once; default 64
	ConnectTimeout time.Duration // per connection attempt; default 10 s
	Timeout        time.Duration // for the command; 0 means none
	Retries        int           // further connection attempts; negative means none
	Backoff        time.Duration // before the first retry, doubling after; default 500 ms
	Batch          int           // hosts per batch; 0 means one batch
	MaxFail        int           // failed hosts after which no batch starts; 0 means no limit
}

// DefaultFanout is the fan-out when Config.Fanout is zero.
const DefaultFanout = 64

func (c *Config) defaults() {
	if c.Fanout <= 0 {
		c.Fanout = DefaultFanout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
}

// Runner runs one command on a list of hosts. Make one with New, start it
// with Run; Stop and Cancel may be called from any goroutine meanwhile.
type Runner struct {
	cfg  Config
	conn Connector
	out  Output

	stopped atomic.Bool

	mu      sync.Mutex
	running map[string]*flow.Flow
	done    int
	failed  int
}

// New returns a runner connecting through c and writing to out.
func New(c Connector, out Output, cfg Config) *Runner {
	cfg.defaults()
	return &Runner{cfg: cfg, conn: c, out: out, running: map[string]*flow.Flow{}}
}

// Stop stops starting hosts; those running go on. It is the first Ctrl-C.
func (r *Runner) Stop() { r.stopped.Store(true) }

// Cancel stops starting hosts and cancels those running: their remote
// commands are killed. It is the second Ctrl-C.
func (r *Runner) Cancel() {
	r.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.running {
		f.Cancel()
	}
}

// Running returns the hosts in flight, for a progress line or a Ctrl-C
// report.
func (r *Runner) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	hosts := make([]string, 0, len(r.running))
	for h := range r.running {
		hosts = append(hosts, h)
	}
	return hosts
}

// Progress returns how many hosts are done, of which failed (any class but
// OK), and how many are running.
func (r *Runner) Progress() (done, failed, running int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done, r.failed, len(r.running)
}

// Run runs cmd on hosts, as flows of l, and returns their results in the
// order of hosts. It blocks the calling goroutine, which must not be l's.
func (r *Runner) Run(l *loop.Loop, hosts []string, cmd string) ([]Result, error) {
	results := make([]Result, len(hosts))
	main := flow.Go(l, func(f *flow.Flow) { r.schedule(f, hosts, cmd, results) })
	if err := main.Wait(); err != nil {
		return results, err
	}
	return results, nil
}

// schedule starts the hosts batch by batch, at most Fanout at once.
func (r *Runner) schedule(f *flow.Flow, hosts []string, cmd string, results []Result) {
	sem := flow.NewSemaphore(r.cfg.Fanout)
	batch := r.cfg.Batch
	if batch <= 0 {
		batch = len(hosts)
	}
	for lo := 0; lo < len(hosts); lo += batch {
		hi := min(lo+batch, len(hosts))
		if lo > 0 && r.cfg.MaxFail > 0 && r.failedCount() >= r.cfg.MaxFail {
			r.stopped.Store(true)
		}
		var wg flow.WaitGroup
		for i := lo; i < hi; i++ {
			host := hosts[i]
			results[i] = Result{Host: host, Class: Cancelled, Exit: -1}
			if r.stopped.Load() || sem.Acquire(f.Context()) != nil {
				r.finish(results[i], nil)
				continue
			}
			if r.stopped.Load() { // stopped while we waited for a slot
				sem.Release()
				r.finish(results[i], nil)
				continue
			}
			wg.Add(1)
			hf := flow.Go(f.Loop(), func(hf *flow.Flow) {
				defer wg.Done()
				defer sem.Release()
				results[i] = r.runHost(hf, host, cmd)
				r.finish(results[i], hf)
			})
			r.mu.Lock()
			r.running[host] = hf
			r.mu.Unlock()
		}
		// Nothing cancels the scheduler's own flow (Cancel reaches each
		// host flow, whose results are still wanted), so this waits for all.
		if err := wg.Wait(f.Context()); err != nil {
			panic("herd/runner: batch wait: " + err.Error())
		}
	}
}

func (r *Runner) failedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// finish records a host's end; hf is its flow, nil if it never started.
func (r *Runner) finish(res Result, hf *flow.Flow) {
	r.mu.Lock()
	if hf != nil {
		delete(r.running, res.Host)
	}
	r.done++
	if res.Class != OK {
		r.failed++
	}
	r.mu.Unlock()
	if hf == nil && r.out != nil {
		r.out.Start(res.Host) // an Output may count on a Start before each Done
		r.out.Done(res)
	}
}

// runHost connects (with retries), runs cmd and classifies the end.
func (r *Runner) runHost(f *flow.Flow, host, cmd string) (res Result) {
	res = Result{Host: host, Exit: -1, Start: time.Now()}
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if r.out != nil {
		stdout, stderr = r.out.Start(host)
		defer func() { r.out.Done(res) }()
	}
	defer func() { res.Duration = time.Since(res.Start) }()
	ctx := f.Context()

	var s Session
	backoff := r.cfg.Backoff
	for {
		res.Attempts++
		var err error
		s, err = Connect(ctx, r.conn, host, r.cfg.ConnectTimeout)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			res.Class, res.Err = Cancelled, ctx.Err()
			return res
		}
		res.Class, res.Err = Classify(err), err
		if res.Class != Unreachable || res.Attempts > r.cfg.Retries {
			return res
		}
		if f.Sleep(backoff) != nil {
			res.Class, res.Err = Cancelled, context.Canceled
			return res
		}
		backoff *= 2
	}
	defer s.Close()

	rctx, cancel := ctx, context.CancelFunc(func() {})
	if r.cfg.Timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, r.cfg.Timeout)
	}
	defer cancel()
	exit, err := s.Run(rctx, cmd, stdout, stderr)
	switch {
	case err == nil:
		res.Exit, res.Err = exit, nil
		if exit == 0 {
			res.Class = OK
		} else {
			res.Class = Failed
		}
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		res.Class, res.Err = Cancelled, err
	case expired(rctx):
		res.Class, res.Err = TimedOut, fmt.Errorf("command timed out after %v", r.cfg.Timeout)
		var nk *NotKilledError
		if errors.As(err, &nk) {
			res.Err = &NotKilledError{Cause: res.Err, Why: nk.Why}
		}
	default:
		res.Class, res.Err = Error, err
		var ce *ClassError
		if errors.As(err, &ce) {
			res.Class = ce.Class
		}
	}
	return res
}

// expired reports whether ctx's deadline has passed. A flow's timed wait
// ends on the loop's timer, which can fire before the context's own timer
// marks it done, so ctx.Err() alone may still be nil there.
func expired(ctx context.Context) bool {
	if ctx.Err() == context.DeadlineExceeded {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
