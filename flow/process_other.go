//go:build !linux

package flow

import (
	"errors"
	"runtime"
)

// errUnsupported is what Start and the pipes return off Linux: the pipes
// need non-blocking file descriptors the port can poll, and the exit a
// pidfd.
var errUnsupported = errors.New("flow: subprocesses are unsupported on " + runtime.GOOS)

var errNotStarted = errUnsupported

// cmdState is empty where there are no subprocesses on flows.
type cmdState struct{}

// Pipe is the parent's end of a command's standard stream; off Linux its
// methods fail.
type Pipe struct{}

func (s *cmdState) init() {}

func (c *Cmd) pipe(int) (*Pipe, error) { return nil, errUnsupported }

// Start fails: subprocesses on flows exist only on Linux.
func (c *Cmd) Start() error { return errUnsupported }

// Wait fails: subprocesses on flows exist only on Linux.
func (c *Cmd) Wait() error { return errUnsupported }

// Read implements io.Reader.
func (p *Pipe) Read([]byte) (int, error) { return 0, errUnsupported }

// Write implements io.Writer.
func (p *Pipe) Write([]byte) (int, error) { return 0, errUnsupported }

// Close implements io.Closer.
func (p *Pipe) Close() error { return errUnsupported }
