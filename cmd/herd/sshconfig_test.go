package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cport/cport/internal/sshtest"
)

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// The default ~/.ssh/config is read, and -F FILE replaces it.
func TestSSHConfigDefaultAndF(t *testing.T) {
	lb := newLab(t, 1)
	host, realPort := hostPort(t, lb.servers[0].Addr)
	_, closed := hostPort(t, sshtest.ClosedPort(t))
	home, _ := os.UserHomeDir()
	writeConfig(t, filepath.Join(home, ".ssh", "config"), fmt.Sprintf("Host web\n  HostName %s\n  Port %s\n  User alice\n", host, closed))
	other := filepath.Join(t.TempDir(), "other")
	writeConfig(t, other, fmt.Sprintf("Host web\n  HostName %s\n  Port %s\n  User alice\n", host, realPort))

	code, _, errOut := lb.run(t, "--retries", "0", "web", "--", "exit 0")
	if code != 2 || !strings.Contains(errOut, "unreachable    1  web") {
		t.Errorf("web through ~/.ssh/config (a closed port): exit %d, want 2, unreachable:\n%s", code, errOut)
	}
	code, out, errOut := lb.run(t, "-F", other, "web", "--", "out from config")
	if code != 0 || out != "web: from config\n" {
		t.Errorf("-F %s: exit %d, stdout %q; want 0 and the host's line\n%s", other, code, out, errOut)
	}
	code, _, errOut = lb.run(t, "-F", filepath.Join(t.TempDir(), "missing"), "web", "--", "exit 0")
	if code != exitUsage || !strings.Contains(errOut, "ssh config") {
		t.Errorf("-F on a missing file: exit %d, want %d and a message\n%s", code, exitUsage, errOut)
	}
}

// -F none reads no file, not even ~/.ssh/config.
func TestSSHConfigNone(t *testing.T) {
	lb := newLab(t, 1)
	home, _ := os.UserHomeDir()
	// Every host jumps through a closed port: nothing is reachable.
	writeConfig(t, filepath.Join(home, ".ssh", "config"), "Host *\n  ProxyJump nobody@"+sshtest.ClosedPort(t)+"\n")
	if code, _, errOut := lb.run(t, "--retries", "0", lb.hosts[0], "--", "exit 0"); code != 2 {
		t.Errorf("through the closed jump host: exit %d, want 2\n%s", code, errOut)
	}
	if code, _, errOut := lb.run(t, "--retries", "0", "-F", "none", lb.hosts[0], "--", "exit 0"); code != 0 {
		t.Errorf("-F none: exit %d, want 0\n%s", code, errOut)
	}
}

func TestBadIdentityIsUsageError(t *testing.T) {
	lb := newLab(t, 1)
	code, _, errOut := herd(t, "", "run", "-i", filepath.Join(t.TempDir(), "nokey"), "--known-hosts", lb.known, "@lab", "--", "exit 0")
	if code != exitUsage || !strings.Contains(errOut, "-i:") {
		t.Errorf("-i with a missing key: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}

// -l and -p beat the config's User and Port, as ssh's do.
func TestSSHConfigFlagsOverride(t *testing.T) {
	lb := newLab(t, 1)
	host, realPort := hostPort(t, lb.servers[0].Addr)
	_, closed := hostPort(t, sshtest.ClosedPort(t))
	config := filepath.Join(t.TempDir(), "config")
	writeConfig(t, config, fmt.Sprintf("Host web\n  HostName %s\n  Port %s\n  User mallory\n", host, closed))

	code, _, errOut := lb.run(t, "--retries", "0", "-F", config, "web", "--", "exit 0")
	if code != 2 {
		t.Errorf("config alone (closed port, user mallory): exit %d, want 2\n%s", code, errOut)
	}
	code, out, errOut := lb.run(t, "-F", config, "-l", "alice", "-p", realPort, "web", "--", "out flags win")
	if code != 0 || out != "web: flags win\n" {
		t.Errorf("-l alice -p %s over the config: exit %d, stdout %q\n%s", realPort, code, out, errOut)
	}
}
