package agent

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/jsonrpc"
)

// Bounds of one output chunk (a frame's or a notification's data). A
// pipe is read with the small size until a read fills it: most commands
// print a few lines, and a buffer per stream of each run of a thousand
// adds up, while one that prints more gets the large size from then on.
const (
	firstOutputChunk = 2 << 10
	outputChunk      = 32 << 10
)

// run is MethodRun: it starts the command in a process group of its own,
// streams its output and returns its exit status. ctx is the message
// flow's context (with the conn): the command's pipes and exit are waited
// for in flows of the connection's loop.
func (s *Server) run(ctx context.Context, p RunParams) (RunResult, error) {
	c := connOf(ctx)
	if c == nil {
		return RunResult{}, errors.New("agent: run outside a connection")
	}
	var argv []string
	switch {
	case p.Shell != "" && len(p.Argv) > 0:
		return RunResult{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "give argv or shell, not both"}
	case p.Shell != "":
		argv = []string{"/bin/sh", "-c", p.Shell}
	case len(p.Argv) > 0 && p.Argv[0] != "":
		argv = p.Argv
	default:
		return RunResult{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "no command: give argv or shell"}
	}
	if p.TimeoutMS < 0 {
		return RunResult{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "negative timeout"}
	}
	if _, dup := c.jobs[p.Job]; dup {
		return RunResult{}, &jsonrpc.Error{Code: CodeDupJob, Message: fmt.Sprintf("a run named %q is going on", p.Job)}
	}
	if c.running >= s.cfg.MaxCommands {
		return RunResult{}, &jsonrpc.Error{Code: CodeBusy, Message: fmt.Sprintf("too many commands on this connection (at most %d)", s.cfg.MaxCommands)}
	}

	// kill ends with the connection, a cancel or the timeout; then the
	// whole process group dies.
	kill, cancel := context.WithCancel(c.ctx)
	defer cancel()
	var timedOut context.Context = context.Background()
	if p.TimeoutMS > 0 {
		var stop context.CancelFunc
		timedOut, stop = context.WithTimeout(kill, time.Duration(p.TimeoutMS)*time.Millisecond)
		defer stop()
		kill = timedOut
	}
	c.jobs[p.Job] = cancel
	c.running++
	defer func() {
		delete(c.jobs, p.Job)
		c.running--
		if c.running == 0 {
			// The reader waits without a deadline while commands run:
			// from now on the controller is idle.
			c.tc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
	}()

	cmd := flow.Command(ctx, argv[0], argv[1:]...)
	if err := s.prepare(cmd); err != nil {
		return RunResult{}, &jsonrpc.Error{Code: CodeStart, Message: err.Error()}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return RunResult{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		stdout.Close()
		return RunResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return RunResult{}, &jsonrpc.Error{Code: CodeStart, Message: fmt.Sprintf("cannot start %s: %v", argv[0], err)}
	}
	pgid := cmd.Pid()
	stopKill := context.AfterFunc(kill, func() { killGroup(pgid) })

	var readers flow.WaitGroup
	for stream, pipe := range map[int]*flow.Pipe{Stdout: stdout, Stderr: stderr} {
		readers.Add(1)
		flow.Go(c.f.Loop(), func(f *flow.Flow) {
			defer readers.Done()
			c.pump(f.Context(), p.Job, stream, pipe)
		})
	}
	// The output ends when every process holding the pipes has ended
	// (or been killed), then the exit status is taken.
	if err := readers.Wait(ctx); err != nil {
		return RunResult{}, err
	}
	err = cmd.Wait()
	// The group's leader is reaped: its id may be reused, so no kill
	// may reach it any more.
	killed := !stopKill()
	var res RunResult
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.Exit, res.Signal = exitStatus(exit)
	default:
		return RunResult{}, err
	}
	if killed {
		res.TimedOut = timedOut.Err() != nil
		res.Canceled = !res.TimedOut
	}
	return res, nil
}

// pump sends a pipe's output as it comes until it ends: as frames, the
// header written into the room left before the bytes read (one write,
// no copy), or as notifications. When the controller is gone the output
// is read and dropped, so the command never blocks on a full pipe before
// it is killed.
func (c *conn) pump(ctx context.Context, job string, stream int, p *flow.Pipe) {
	room := frameHeaderRoom(job)
	buf := make([]byte, room+firstOutputChunk)
	hdr := make([]byte, 0, room)
	for {
		n, err := p.Read(buf[room:])
		if n > 0 && !c.broken {
			if c.frames {
				hdr = appendFrameHeader(hdr[:0], job, stream, n)
				start := room - len(hdr)
				copy(buf[start:], hdr)
				c.send(ctx, buf[start:room+n])
			} else {
				c.notify(ctx, NotifyOutput, OutputParams{Job: job, Stream: stream, Data: buf[room : room+n]})
			}
		}
		if err != nil {
			return
		}
		if n == len(buf)-room && len(buf) < room+outputChunk {
			buf = make([]byte, room+outputChunk)
		}
	}
}

// cancel is MethodCancel.
func (s *Server) cancel(ctx context.Context, p CancelParams) error {
	c := connOf(ctx)
	if c == nil {
		return errors.New("agent: cancel outside a connection")
	}
	stop, ok := c.jobs[p.Job]
	if !ok {
		return &jsonrpc.Error{Code: CodeNoSuchJb, Message: fmt.Sprintf("no run named %q", p.Job)}
	}
	stop()
	return nil
}
