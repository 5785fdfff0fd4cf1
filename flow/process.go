package flow

import (
	"context"
	"io"
	"os"
	"syscall"
)

// Cmd is an external command run from a flow, its standard streams
// pipes driven by the flow's loop: reading a child's output parks the
// flow, not a thread, and a command waiting to exit holds no goroutine,
// so one loop runs many commands cheaply. Linux only; elsewhere Start
// fails with an error saying so.
//
// Set the exported fields, take the pipes you want (the others are
// /dev/null), then Start in a flow and Wait in a flow of the same loop.
type Cmd struct {
	// Args holds the command name and its arguments.
	Args []string
	// Env is the environment; nil means the current process's.
	Env []string
	// Dir is the working directory; empty means the current one.
	Dir string
	// SysProcAttr holds Linux process attributes; Cmd sets PidFD on a
	// copy of it.
	SysProcAttr *syscall.SysProcAttr
	// ProcessState describes the exited process, once Wait has returned.
	ProcessState *os.ProcessState

	ctx      context.Context
	proc     *os.Process
	cmdState // what the platform's Start and Wait keep
}

// Command returns a Cmd that runs name with args. ctx bounds the
// command's life: when it ends before the command exits, the command is
// killed (SIGKILL) and Wait reports ctx's error.
func Command(ctx context.Context, name string, args ...string) *Cmd {
	c := &Cmd{ctx: ctx, Args: append([]string{name}, args...)}
	c.init()
	return c
}

var _ io.ReadWriteCloser = (*Pipe)(nil)

// StdinPipe returns the writing end of a pipe to the command's standard
// input. Close it to send end of file; Wait closes it too.
func (c *Cmd) StdinPipe() (*Pipe, error) { return c.pipe(0) }

// StdoutPipe returns the reading end of a pipe from the command's
// standard output. Read it to EOF before Wait, which closes it.
func (c *Cmd) StdoutPipe() (*Pipe, error) { return c.pipe(1) }

// StderrPipe is StdoutPipe for standard error.
func (c *Cmd) StderrPipe() (*Pipe, error) { return c.pipe(2) }

// Run starts the command and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Kill sends the command SIGKILL.
func (c *Cmd) Kill() error { return c.Signal(os.Kill) }

// Signal sends the command sig; after it has been waited for, it fails
// with os.ErrProcessDone.
func (c *Cmd) Signal(sig os.Signal) error {
	if c.proc == nil {
		return errNotStarted
	}
	return c.proc.Signal(sig)
}

// Pid is the command's process id, once started.
func (c *Cmd) Pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid
}
