package main

// herd against a real OpenSSH server: the lab tools/sshlab/start.sh starts
// (or the one HERD_LAB_DIR names), where every address 127.0.0.2,
// 127.0.0.3, ... is a distinct host. The commands run on this machine, so
// the tests can look for them in /proc (package proctest) and kill sshd's
// processes under them.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// realLab is a running sshlab.
type realLab struct {
	dir, user, key, known, hostKey, deny string
	oneSession                           string // a host with MaxSessions 1
	port                                 int
	root                                 bool // root may log in too
	// sftpHosts serve SFTP only, each from its own directory
	// sftpDir/ADDR, where relative paths start.
	sftpHosts, sftpDir string
}

var (
	theLab  *realLab
	noLab   string // why there is no lab
	labErr  bool   // there is an sshd, but the lab did not start: a failure
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	stop := setUpLab()
	code := m.Run()
	stop()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// setUpLab finds or starts the lab and returns what stops it.
func setUpLab() (stop func()) {
	if dir := os.Getenv("HERD_LAB_DIR"); dir != "" {
		theLab, noLab = readLab(dir)
		labErr = theLab == nil
		return func() {}
	}
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		noLab = fmt.Sprintf("no OpenSSH server lab: no %s (Debian: apt-get install openssh-server; or start one with tools/sshlab/start.sh DIR and set HERD_LAB_DIR=DIR)", sshd)
		return func() {}
	}
	dir, err := os.MkdirTemp("", "herdlab")
	if err != nil {
		noLab, labErr = err.Error(), true
		return func() {}
	}
	out, err := exec.Command("bash", "../../tools/sshlab/start.sh", dir).CombinedOutput()
	if err != nil {
		noLab = fmt.Sprintf("the OpenSSH lab did not start (tools/sshlab/start.sh: %v):\n%s", err, out)
		labErr = true
		os.RemoveAll(dir)
		return func() {}
	}
	theLab, noLab = readLab(dir)
	labErr = theLab == nil
	return func() {
		if out, err := exec.Command("bash", "../../tools/sshlab/stop.sh", dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the lab: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	}
}

// readLab reads DIR/env, which start.sh writes.
func readLab(dir string) (*realLab, string) {
	data, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		return nil, fmt.Sprintf("no lab in %s: %v", dir, err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	port, err := strconv.Atoi(env["HERD_LAB_PORT"])
	if err != nil {
		return nil, fmt.Sprintf("%s/env: bad HERD_LAB_PORT %q", dir, env["HERD_LAB_PORT"])
	}
	return &realLab{
		dir: dir, user: env["HERD_LAB_USER"], key: env["HERD_LAB_KEY"], known: env["HERD_LAB_KNOWN_HOSTS"],
		hostKey: env["HERD_LAB_HOST_KEY"], deny: env["HERD_LAB_DENY_HOST"], port: port,
		oneSession: env["HERD_LAB_ONE_SESSION_HOST"],
		root:       env["HERD_LAB_ROOT"] == "yes",
		sftpHosts:  env["HERD_LAB_SFTP_HOSTS"], sftpDir: env["HERD_LAB_SFTP_DIR"],
	}, ""
}

// needLab returns the lab, or skips the test saying why there is none:
// only the lack of an sshd is a reason to skip.
func needLab(t *testing.T) *realLab {
	t.Helper()
	if theLab == nil && labErr {
		t.Fatal(noLab)
	}
	if theLab == nil {
		t.Skip(noLab)
	}
	t.Setenv("SSH_AUTH_SOCK", "") // the lab's key only
	return theLab
}

// flags are the options that reach the lab.
func (rl *realLab) flags(known string) []string { return rl.flagsAs(rl.user, known) }

// flagsAs are the options that reach the lab as login.
func (rl *realLab) flagsAs(login, known string) []string {
	return []string{"-l", login, "-p", strconv.Itoa(rl.port), "-i", rl.key, "--known-hosts", known}
}

// run runs herd run in this process with the lab's options before args.
func (rl *realLab) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return rl.runAs(t, rl.user, args...)
}

// runAs is run as login.
func (rl *realLab) runAs(t *testing.T, login string, args ...string) (int, string, string) {
	t.Helper()
	return herd(t, "", append(append([]string{"run"}, rl.flagsAs(login, rl.known)...), args...)...)
}

// forLogins runs test as the lab's user and, where the lab lets root in,
// as root: OpenSSH ignores a root session's signal requests, so only
// herd's own kills (its kill session, or the guard) reach a root login's
// commands.
func (rl *realLab) forLogins(t *testing.T, test func(t *testing.T, login string)) {
	t.Run(rl.user, func(t *testing.T) { test(t, rl.user) })
	t.Run("root", func(t *testing.T) {
		if !rl.root {
			t.Skip("the lab lets no root login in (it runs as root only)")
		}
		test(t, "root")
	})
}

// knownHostsWith returns a copy of the lab's known_hosts with a line for
// each of extra ("[host]:port") added.
func (rl *realLab) knownHostsWith(t *testing.T, extra ...string) string {
	t.Helper()
	data, err := os.ReadFile(rl.known)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(rl.hostKey)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(pub))
	for _, h := range extra {
		data = fmt.Appendf(data, "%s %s %s\n", h, fields[0], fields[1])
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// herdBinary builds herd once (with the race detector if this test has
// it), for the tests that signal a herd process.
func herdBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "herdbin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "herd")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		var out []byte
		out, binErr = exec.Command("go", append(args, ".")...).CombinedOutput()
		if binErr != nil {
			binErr = fmt.Errorf("go build: %v\n%s", binErr, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var summaryLine = regexp.MustCompile(`(?m)^(\w+) +(\d+)  (\S+)$`)

// summary reads herd's closing summary: class name to folded hosts.
func summary(errOut string) map[string]string {
	m := map[string]string{}
	for _, s := range summaryLine.FindAllStringSubmatch(errOut, -1) {
		m[s[1]] = s[3]
	}
	return m
}

// wantSummary checks that the summary is exactly want.
func wantSummary(t *testing.T, errOut string, want map[string]string) {
	t.Helper()
	got := summary(errOut)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("summary %v, want %v; stderr:\n%s", got, want, errOut)
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls cond every 20 ms for at most limit; limits guard against
// hangs and are never measures.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sshdAncestor returns the nearest sshd process above pid: the one serving
// its session.
func sshdAncestor(t *testing.T, pid int) int {
	t.Helper()
	for p := pid; p > 1; {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			t.Fatalf("walking up from %d: %v", pid, err)
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		comm := s[open+1 : close]
		if p != pid && strings.HasPrefix(comm, "sshd") {
			return p
		}
		f := strings.Fields(s[close+1:])
		p, _ = strconv.Atoi(f[1])
	}
	t.Fatalf("no sshd above process %d", pid)
	return 0
}
