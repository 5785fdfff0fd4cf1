//go:build !unix

package agent

import (
	"errors"
	"os/exec"

	"github.com/cport/cport/flow"
)

var errNoProcessGroups = errors.New("agent: commands need Unix process groups")

func (s *Server) prepare(*flow.Cmd) error { return errNoProcessGroups }

func killGroup(int) {}

func exitStatus(e *exec.ExitError) (int, string) { return e.ExitCode(), "" }

// CanRunAs reports why the agent cannot run commands as another user.
func CanRunAs() error { return errNoProcessGroups }
