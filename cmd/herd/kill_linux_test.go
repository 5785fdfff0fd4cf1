package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/internal/proctest"
)

// killModes are herd run's ways of killing a command that outlives its
// run: the default (a pid line, then a kill of its process group through
// a second session), the watchdog and none at all.
var killModes = []struct {
	name  string
	flags []string
}{
	{"default", nil},
	{"guard", []string{"--guard"}},
	{"raw", []string{"--raw"}},
}

// needSudo skips a test when the lab's host has no sudo: with it, root
// logins run sudo -n without a password.
func (rl *realLab) needSudo(t *testing.T) {
	t.Helper()
	if !rl.root {
		t.Skip("the lab lets no root login in (it runs as root only)")
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("no sudo on the lab's host (Debian: apt-get install sudo)")
	}
}

// sudoer lets the lab's user run sudo -n as root for the rest of the test,
// through a file in /etc/sudoers.d it removes after: with it, a command
// of the user's runs as root, which the user itself cannot kill.
func (rl *realLab) sudoer(t *testing.T, defaults ...string) {
	t.Helper()
	rl.needSudo(t)
	file := filepath.Join("/etc/sudoers.d", "herd-test-"+proctest.NewMark())
	rule := rl.user + " ALL=(ALL:ALL) NOPASSWD: ALL\n"
	for _, d := range defaults {
		rule += "Defaults:" + rl.user + ",root " + d + "\n"
	}
	if err := os.WriteFile(file, []byte(rule), 0o440); err != nil {
		t.Skipf("cannot let %s use sudo: %v", rl.user, err)
	}
	t.Cleanup(func() { os.Remove(file) })
	if out, err := exec.Command("visudo", "-cf", file).CombinedOutput(); err != nil {
		t.Fatalf("visudo -cf %s: %v\n%s", file, err, out)
	}
}

// hostBytes runs command on 127.0.0.2 as login with flags and returns its
// exit status and the exact bytes of its stdout and stderr (--log-dir's
// files: --json would change bytes that are not UTF-8).
func hostBytes(t *testing.T, rl *realLab, login string, flags []string, command string) (int, []byte, []byte) {
	t.Helper()
	dir := t.TempDir()
	args := append(append([]string{"--json", "--timeout", "60s", "--log-dir", dir}, flags...), "127.0.0.2", "--", command)
	_, out, errOut := rl.runAs(t, login, args...)
	r, ok := jsonRecords(t, out)["127.0.0.2"]
	if !ok {
		t.Fatalf("%v %q: no record\n%s\n%s", flags, command, out, errOut)
	}
	stdout, err := os.ReadFile(filepath.Join(dir, "127.0.0.2.out"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.ReadFile(filepath.Join(dir, "127.0.0.2.err"))
	if err != nil {
		t.Fatal(err)
	}
	return r.Exit, stdout, stderr
}

// TestLabOutputUnwrapped: what a command writes and its exit status are
// byte for byte those of the command sent as is (--raw), with herd's pid
// line or its watchdog around it; for the lab's user, whose login shell
// is /bin/sh, and for root, whose is bash (bash quotes a line with a
// syntax error whole, so the first line's syntax errors are left out for
// it: the pid line's "echo $$; " would show there).
func TestLabOutputUnwrapped(t *testing.T) {
	rl := needLab(t)
	commands := []string{
		"true",                       // no output at all
		"printf 'no newline'",        // no final newline
		`printf '\000\001\377\n\n7'`, // bytes that are not text
		"echo 4242; echo more",       // digits first, as a pid line would be
		"printf 4242",                // digits alone, no newline
		"echo \"$0\" $# $LINENO",     // how the shell runs it
		"no-such-command-here",       // the shell's message, with its line number
		"echo ran\nif then fi",       // a syntax error after the first line
		"echo ran >&2; exit 7",
	}
	rl.forLogins(t, func(t *testing.T, login string) {
		cmds := commands
		if login != "root" {
			cmds = append(cmds, "if then fi") // a syntax error on the first line
		}
		sudo := [][]string{nil}
		if _, err := exec.LookPath("sudo"); err == nil && login == "root" {
			// sudo runs the command in sh, whatever the login shell.
			sudo = append(sudo, []string{"--sudo"})
		}
		for _, via := range sudo {
			for _, command := range cmds {
				want, wantOut, wantErr := hostBytes(t, rl, login, append([]string{"--raw"}, via...), command)
				for _, mode := range killModes[:2] {
					got, out, errOut := hostBytes(t, rl, login, append(append([]string(nil), mode.flags...), via...), command)
					if got != want || !bytes.Equal(out, wantOut) || !bytes.Equal(errOut, wantErr) {
						t.Errorf("%s %v %q: exit %d stdout %q stderr %q; unwrapped: %d %q %q",
							mode.name, via, command, got, out, errOut, want, wantOut, wantErr)
					}
				}
			}
		}
	})
}

// TestLabKillLeavesDetached: a command that ends by itself leaves the
// children it meant to leave running, as it would unwrapped: herd kills
// only commands whose run ends early.
func TestLabKillLeavesDetached(t *testing.T) {
	rl := needLab(t)
	for _, mode := range killModes[:2] {
		mark := proctest.NewMark()
		t.Cleanup(func() { proctest.Kill(mark) })
		command := "nohup env " + proctest.Env(mark) + " sleep 300 >/dev/null 2>&1 & echo started"
		code, out, errOut := rl.run(t, append(append([]string{"--timeout", "60s"}, mode.flags...), "127.0.0.2", "--", command)...)
		if code != 0 || !strings.Contains(out, "started") {
			t.Fatalf("%s: exit %d, stdout %q, stderr:\n%s", mode.name, code, out, errOut)
		}
		proctest.WaitCount(t, mark, 1, 20*time.Second)
		// herd has closed the connection and waited for its kills: any
		// kill it would make is made.
		if err := proctest.WaitGone(mark, time.Second); err == nil {
			t.Errorf("%s: the detached child was killed", mode.name)
		}
	}
}

// TestLabKillRefusedIsReported: a host whose sshd allows one session per
// connection refuses the kill's second session. herd reports the host as
// timed out with its command possibly still running, and it is. (As
// root, whose sessions' signal requests OpenSSH ignores: another user's
// command dies of the signal herd sends first.)
func TestLabKillRefusedIsReported(t *testing.T) {
	rl := needLab(t)
	if rl.oneSession == "" {
		t.Skip("the lab has no one-session host: started by an older tools/sshlab/start.sh")
	}
	if !rl.root {
		t.Skip("the lab lets no root login in (it runs as root only)")
	}
	r, mark := runPastTimeout(t, rl, "root", rl.oneSession, 3)
	if r.code != 3 {
		t.Errorf("exit %d, want 3; stderr:\n%s", r.code, r.errOut)
	}
	wantSummary(t, r.errOut, map[string]string{"timeout": rl.oneSession})
	t.Logf("herd said:\n%s", r.errOut)
	if !strings.Contains(r.errOut, "not killed     1  "+rl.oneSession) || !strings.Contains(r.errOut, "could not be opened") {
		t.Errorf("stderr does not say the command may still run, and why:\n%s", r.errOut)
	}
	if n := len(proctest.Find(mark)); n != 3 {
		t.Errorf("%d of the command's 3 processes are left, want all: herd says it could not kill them", n)
	}
}
