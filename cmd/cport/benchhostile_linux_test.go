package main

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// bench hostile refuses to report the RSS of a pid that is not the
// server's (one that used no CPU while the peers connected), rather than
// print a figure of nothing.
func TestBenchHostileRefusesWrongPID(t *testing.T) {
	addr := startSlowBodyTarget(t)
	idle := exec.Command("sleep", "60")
	if err := idle.Start(); err != nil {
		t.Skipf("no sleep to stand in for a wrong pid: %v", err)
	}
	defer func() {
		idle.Process.Kill()
		idle.Wait()
	}()
	var out bytes.Buffer
	args := []string{"--addr", addr.String(), "--kind", "slowbody", "--peers", "20", "--wait", "20s",
		"--server-pid", strconv.Itoa(idle.Process.Pid)}
	err := runBenchHostile(args, &out)
	if err == nil || !strings.Contains(err.Error(), "not the server") {
		t.Fatalf("with the pid of an idle process: %v, want a refusal\n%s", err, out.String())
	}
}
