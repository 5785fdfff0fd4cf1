package sshsession

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/internal/proctest"
)

// startGroup starts a shell with a child in a process group of its own,
// as sshd starts a login shell, and returns the shell's pid.
func startGroup(t *testing.T, mark string) int {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & sleep 300")
	cmd.Env = append(os.Environ(), proctest.Env(mark))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proctest.Kill(mark) })
	go cmd.Wait() // reaped, so that a killed shell is gone, not a zombie
	for deadline := time.Now().Add(10 * time.Second); len(proctest.Find(mark)) < 3; {
		if time.Now().After(deadline) {
			t.Fatal("the shell and its two sleeps did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd.Process.Pid
}

// runKill runs the kill line as a login shell would, through argv's
// prefix (to run it as another user), and returns its exit status and
// stderr.
func runKill(t *testing.T, line string, argv ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", line)
	if len(argv) > 0 {
		cmd = exec.Command(argv[0], append(argv[1:], "/bin/sh", "-c", line)...)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// TestKillCommandKills: the kill line kills each pid's process group,
// exits 0 for processes gone already, and fails, naming the process,
// for one it may not signal.
func TestKillCommandKills(t *testing.T) {
	a, b := proctest.NewMark(), proctest.NewMark()
	pa, pb := startGroup(t, a), startGroup(t, b)
	line := killCommand([]int{pa, pb}, false)
	if code, stderr := runKill(t, line); code != 0 {
		t.Fatalf("exit %d, stderr %q; want 0", code, stderr)
	}
	for _, mark := range []string{a, b} {
		if err := proctest.WaitGone(mark, 10*time.Second); err != nil {
			t.Fatal("after the kill, the groups are", err)
		}
	}
	if code, stderr := runKill(t, line); code != 0 {
		t.Errorf("again, with both gone: exit %d, stderr %q; want 0", code, stderr)
	}

	// A process another user owns: the kill runs as nobody.
	if os.Geteuid() != 0 {
		t.Skip("not root: no process of another user to aim at safely")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv to run the kill as another user:", err)
	}
	target := startGroup(t, proctest.NewMark())
	code, stderr := runKill(t, killCommand([]int{target}, false), setpriv, "--reuid=65534", "--regid=65534", "--clear-groups")
	if code == 0 || !strings.Contains(stderr, "pid "+strconv.Itoa(target)+":") {
		t.Errorf("a process this user may not signal: exit %d, stderr %q; want a failure naming pid %d", code, stderr, target)
	}
}
