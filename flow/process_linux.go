package flow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"golang.org/x/sys/unix"
)

var (
	errNotStarted = errors.New("flow: command not started")
	errStarted    = errors.New("flow: command already started")
)

// cmdState is a command's state on Linux: its pipes, its pidfd watched
// by the loop's port, and how it ended.
type cmdState struct {
	l       *loop.Loop
	pipes   [3]*Pipe    // stdin, stdout, stderr: the parent's ends
	child   [3]*os.File // the child's ends, closed after Start
	pidfd   int
	key     port.Key
	started bool
	exited  bool
	err     error // Wait's result, once exited
	waiters waitq
	stopCtx func() bool
	killed  atomic.Pointer[error] // the context's error, if it killed the child
}

func (s *cmdState) init() { s.pidfd = -1 }

// pipe makes stream i's pipe: close-on-exec on both ends, so concurrent
// Starts do not leak it into other children (the child's end becomes
// its fd i through dup2, which clears the flag); non-blocking on ours
// only, since the child expects an ordinary blocking stream.
func (c *Cmd) pipe(i int) (*Pipe, error) {
	if c.started {
		return nil, errStarted
	}
	if c.pipes[i] != nil {
		return nil, fmt.Errorf("flow: %s pipe already taken", streamNames[i])
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	ours, theirs := fds[0], fds[1]
	if i == 0 {
		ours, theirs = fds[1], fds[0]
	}
	if err := unix.SetNonblock(ours, true); err != nil {
		unix.Close(ours)
		unix.Close(theirs)
		return nil, os.NewSyscallError("fcntl", err)
	}
	p := &Pipe{name: fmt.Sprintf("|%d", i), fd: ours, write: i == 0}
	c.pipes[i] = p
	c.child[i] = os.NewFile(uintptr(theirs), p.name)
	return p, nil
}

var streamNames = [3]string{"stdin", "stdout", "stderr"}

// Start starts the command. It must be called from a flow (ctx given to
// Command, or the flow running on the caller's loop); the command's pipes
// and exit are then watched by that flow's loop. The fork and exec run in
// the Blocking pool: looking the program up touches the file system, and
// exec of a large binary can take a while, neither of which may stall the
// loop.
func (c *Cmd) Start() error {
	if c.started {
		return errStarted
	}
	f := caller(c.ctx, nil)
	if f == nil {
		c.closeAll()
		return ErrNotInFlow
	}
	c.started = true
	c.l = f.l
	for _, p := range c.pipes {
		if p != nil {
			p.l = c.l
		}
	}
	if err := c.ctxErr(); err != nil {
		c.closeAll()
		return err
	}
	ec := exec.Command(c.Args[0], c.Args[1:]...)
	ec.Env, ec.Dir = c.Env, c.Dir
	attr := &syscall.SysProcAttr{}
	if c.SysProcAttr != nil {
		*attr = *c.SysProcAttr
	}
	attr.PidFD = &c.pidfd
	ec.SysProcAttr = attr
	// *os.File streams go to the child as they are: no copying goroutine.
	if c.child[0] != nil {
		ec.Stdin = c.child[0]
	}
	if c.child[1] != nil {
		ec.Stdout = c.child[1]
	}
	if c.child[2] != nil {
		ec.Stderr = c.child[2]
	}
	// Only Flow.Cancel can end this wait early (ctx's end kills the child
	// once started instead); then the child nobody will wait for is
	// killed and reaped off the loop.
	// The worker closes the child's ends itself: a flow cancelled while the
	// fork runs must not close them under it.
	child := c.child
	c.child = [3]*os.File{}
	err := defaultPool.run(f, noCtx, func(context.Context) error {
		err := ec.Start()
		for _, cf := range child {
			if cf != nil {
				cf.Close()
			}
		}
		return err
	}, func() {
		if ec.Process != nil {
			ec.Process.Kill()
			go ec.Wait()
		}
	})
	if err != nil {
		c.closePipes()
		return err
	}
	c.proc = ec.Process
	if err := c.watchExit(ec); err != nil {
		ec.Process.Kill()
		c.closePipes()
		return err
	}
	if c.ctx != nil && c.ctx.Done() != nil {
		c.stopCtx = context.AfterFunc(c.ctx, func() {
			err := c.ctx.Err()
			c.killed.Store(&err)
			c.proc.Kill()
		})
	}
	return nil
}

// watchExit arranges for the exit to be noticed on the loop: a poll on
// the child's pidfd, which becomes readable when it exits. No thread
// waits in wait(2) per child, so many children cost only a key each.
// Kernels without pidfds (before 5.4) get a goroutine in Wait instead.
func (c *Cmd) watchExit(ec *exec.Cmd) error {
	if c.pidfd < 0 {
		go func() {
			err := ec.Wait()
			c.l.Post(func() { c.finish(ec, err) })
		}()
		return nil
	}
	key, err := c.l.Register(func(port.Completion) { c.reap(ec) })
	if err != nil {
		unix.Close(c.pidfd)
		c.pidfd = -1
		return err
	}
	c.key = key
	if err := c.l.Submit(key, port.Poll(c.pidfd, port.PollIn)); err != nil {
		c.l.Release(key)
		unix.Close(c.pidfd)
		c.pidfd = -1
		return err
	}
	return nil
}

// reap runs on the loop when the pidfd is readable: the child has exited,
// so exec.Cmd.Wait's waitid returns at once.
func (c *Cmd) reap(ec *exec.Cmd) {
	c.l.Release(c.key)
	c.key = 0
	c.l.Port().Forget(c.pidfd)
	unix.Close(c.pidfd)
	c.pidfd = -1
	c.finish(ec, ec.Wait())
}

// finish records the exit and wakes every Wait (loop only).
func (c *Cmd) finish(ec *exec.Cmd, err error) {
	if c.stopCtx != nil {
		c.stopCtx()
	}
	if kp := c.killed.Load(); kp != nil {
		if err == nil {
			err = *kp
		} else {
			err = fmt.Errorf("%w (%w)", *kp, err)
		}
	}
	c.exited, c.err, c.ProcessState = true, err, ec.ProcessState
	c.waiters.wakeAll(nil)
}

// Wait parks the flow until the command exits, then closes its pipes and
// returns nil for a zero exit status, an *exec.ExitError (reachable with
// errors.As) otherwise, wrapped with the context's error if the context
// killed it. A Flow.Cancel ends the wait early with context.Canceled;
// the command goes on, and is still reaped when it exits.
func (c *Cmd) Wait() error {
	if !c.started || c.proc == nil {
		return errNotStarted
	}
	f := caller(noCtx, c.l)
	if f == nil {
		return ErrNotInFlow
	}
	for !c.exited {
		if err := f.check(noCtx, true); err != nil {
			return err
		}
		if err := f.park(noCtx, &c.waiters, cancellable); err != nil {
			return err
		}
	}
	c.closePipes()
	return c.err
}

func (c *Cmd) ctxErr() error {
	if c.ctx == nil {
		return nil
	}
	return c.ctx.Err()
}

func (c *Cmd) closePipes() {
	for _, p := range c.pipes {
		if p != nil {
			p.Close()
		}
	}
}

func (c *Cmd) closeAll() {
	for i, cf := range c.child {
		if cf != nil {
			cf.Close()
			c.child[i] = nil
		}
	}
	c.closePipes()
}
