//go:build unix

package agent

import (
	"os"
	"os/exec"
	"syscall"

	"github.com/cport/cport/flow"
)

// prepare puts the command in a new process group (so that killGroup
// reaches its children too) and, with RunAs, under that user.
func (s *Server) prepare(cmd *flow.Cmd) error {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if u := s.cfg.RunAs; u != nil {
		attr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
		cmd.Dir = u.Dir
		cmd.Env = append(os.Environ(), "HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name)
	}
	cmd.SysProcAttr = attr
	return nil
}

// killGroup sends SIGKILL to the process group pgid.
func killGroup(pgid int) {
	if pgid > 0 {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// exitStatus reads an exit status as a shell reports it: 128+N after
// signal N, with the signal's name.
func exitStatus(e *exec.ExitError) (int, string) {
	if ws, ok := e.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), unixSignalName(ws.Signal())
	}
	return e.ExitCode(), ""
}

func unixSignalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGHUP:
		return "HUP"
	case syscall.SIGSEGV:
		return "SEGV"
	case syscall.SIGPIPE:
		return "PIPE"
	case syscall.SIGABRT:
		return "ABRT"
	}
	return sig.String()
}

// CanRunAs reports why the agent cannot run commands as another user,
// or nil if it can (it is root).
func CanRunAs() error {
	if os.Geteuid() != 0 {
		return errNotRoot
	}
	return nil
}
