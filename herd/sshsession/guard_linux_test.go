package sshsession

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/internal/proctest"
)

// The guard's script runs here with a local /bin/sh, as sshd would run it:
// as the login shell's command, with a stdin that stays open and silent.
// leader says whether the shell leads its process group, as a login shell
// under sshd does; without it the script takes its setsid path.

type guarded struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, errOut bytes.Buffer
	// mark marks the script's processes: the shell, the watcher and what
	// the command starts, unless it marks them otherwise.
	mark string
}

// startGuarded runs command guarded: as the login shell /bin/sh runs
// Guard(command) when sh is "", else with the script run by sh directly.
func startGuarded(t *testing.T, command string, sh string, leader bool) *guarded {
	t.Helper()
	g := &guarded{cmd: exec.Command("/bin/sh", "-c", Guard(command)), mark: proctest.NewMark()}
	if sh != "" {
		g.cmd = exec.Command(sh, "-c", guardScript, "herd", command)
	}
	g.cmd.Env = append(os.Environ(), "SHELL=/bin/sh", proctest.Env(g.mark))
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: leader}
	g.cmd.Stdout, g.cmd.Stderr = &g.stdout, &g.errOut
	var err error
	if g.stdin, err = g.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.stdin.Close(); proctest.Kill(g.mark) })
	return g
}

// wait waits for the script's exit, for at most limit, and returns its status.
func (g *guarded) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit): // a guard against a hang, not a measure
		t.Fatalf("the guarded command did not end within %v", limit)
		return -1
	}
}

// forEach runs test with the script in each POSIX shell there is here
// ("" is /bin/sh through Guard), as a group leader and not.
func forEach(t *testing.T, test func(t *testing.T, sh string, leader bool)) {
	shells := []string{""}
	for _, sh := range []string{"dash", "bash", "mksh", "ksh"} {
		if path, err := exec.LookPath(sh); err == nil {
			shells = append(shells, path)
		}
	}
	for _, sh := range shells {
		name := "Guard"
		if sh != "" {
			name = filepath.Base(sh)
		}
		t.Run(name+"/group-leader", func(t *testing.T) { test(t, sh, true) })
		t.Run(name+"/setsid", func(t *testing.T) { test(t, sh, false) })
	}
}

// TestGuardTransparent: exit status, stdout and stderr are those of the
// command run as sshd would run it unguarded, with an empty stdin.
func TestGuardTransparent(t *testing.T) {
	for _, command := range []string{
		"echo out; echo err >&2; exit 3",
		"printf 'no newline'",
		"cat; echo read nothing",
		"echo $0 $#; exit 0",
		"kill -TERM $$",
		"no-such-command-here",
	} {
		plain := exec.Command("/bin/sh", "-c", command)
		plain.Args[0] = "sh" // as sshd runs a command: argv[0] is the shell's base name
		var wantOut, wantErr bytes.Buffer
		plain.Stdout, plain.Stderr = &wantOut, &wantErr
		want := 0
		if err := plain.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatal(err)
			}
			want = exit.ExitCode()
			if want < 0 { // killed by a signal: sh reports 128+n
				want = 128 + int(exit.Sys().(syscall.WaitStatus).Signal())
			}
		}
		forEach(t, func(t *testing.T, sh string, leader bool) {
			g := startGuarded(t, command, sh, leader)
			if code := g.wait(t, 20*time.Second); code != want {
				t.Errorf("%q: exit %d, want %d", command, code, want)
			}
			if g.stdout.String() != wantOut.String() || g.errOut.String() != wantErr.String() {
				t.Errorf("%q: stdout %q stderr %q, want %q and %q", command, &g.stdout, &g.errOut, &wantOut, &wantErr)
			}
		})
	}
}

// TestGuardKillsAtStdinEnd: when the session's stdin ends, the command
// and its children die.
func TestGuardKillsAtStdinEnd(t *testing.T) {
	forEach(t, func(t *testing.T, sh string, leader bool) {
		mark := proctest.NewMark()
		t.Cleanup(func() { proctest.Kill(mark) })
		g := startGuarded(t, "exec env "+proctest.Env(mark)+" sh -c 'sleep 300 & sleep 300'", sh, leader)
		proctest.WaitCount(t, mark, 3, 20*time.Second) // sh and its two sleeps
		g.stdin.Close()
		if err := proctest.WaitGone(mark, 20*time.Second); err != nil {
			t.Fatal("the command:", err)
		}
		g.wait(t, 20*time.Second)
		if err := proctest.WaitGone(g.mark, 20*time.Second); err != nil {
			t.Fatal("the watchdog:", err)
		}
	})
}

// TestGuardLeavesDetached: a command that ends by itself leaves the
// children it meant to leave running, as it would unguarded.
func TestGuardLeavesDetached(t *testing.T) {
	forEach(t, func(t *testing.T, sh string, leader bool) {
		mark := proctest.NewMark()
		t.Cleanup(func() { proctest.Kill(mark) })
		g := startGuarded(t, "env "+proctest.Env(mark)+" sleep 300 >/dev/null 2>&1 & echo started", sh, leader)
		if code := g.wait(t, 20*time.Second); code != 0 || g.stdout.String() != "started\n" {
			t.Fatalf("exit %d, stdout %q", code, &g.stdout)
		}
		proctest.WaitCount(t, mark, 1, 20*time.Second)
		g.stdin.Close()
		// Once the watchdog is gone, any kill it would make is made.
		if err := proctest.WaitGone(g.mark, 20*time.Second); err != nil {
			t.Fatal("the watchdog:", err)
		}
		if pids := proctest.Find(mark); len(pids) != 1 {
			t.Errorf("the detached child was killed: %v", pids)
		}
	})
}

// TestGuardUnderSudo: with --sudo the watchdog runs under sudo (a stand-in
// here that, like sudo without a pty, runs the command as its child) and
// the command in sh.
func TestGuardUnderSudo(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\n[ \"$1\" = -n ] && [ \"$2\" = -- ] || exit 99\nshift 2\n\"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	start := func(command string) *guarded {
		line, _ := remoteCommand(command, true, KillGuard)
		g := &guarded{cmd: exec.Command("/bin/sh", "-c", line), mark: proctest.NewMark()}
		g.cmd.Env = append(os.Environ(), "SHELL=/bin/no-such-shell", proctest.Env(g.mark))
		g.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		g.cmd.Stdout, g.cmd.Stderr = &g.stdout, &g.errOut
		var err error
		if g.stdin, err = g.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := g.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.stdin.Close(); proctest.Kill(g.mark) })
		return g
	}

	g := start("echo $0; echo err >&2; exit 3")
	if code := g.wait(t, 20*time.Second); code != 3 || g.stdout.String() != "sh\n" || g.errOut.String() != "err\n" {
		t.Errorf("exit %d stdout %q stderr %q; want 3, \"sh\\n\", \"err\\n\"", code, &g.stdout, &g.errOut)
	}

	mark := proctest.NewMark()
	t.Cleanup(func() { proctest.Kill(mark) })
	g = start("exec env " + proctest.Env(mark) + " sh -c 'sleep 300 & sleep 300'")
	proctest.WaitCount(t, mark, 3, 20*time.Second)
	g.stdin.Close()
	if err := proctest.WaitGone(mark, 20*time.Second); err != nil {
		t.Fatal("the command:", err)
	}
}
