package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cport/cport/internal/sshtest"
)

// newCopyLab is a lab whose servers also serve SFTP, each from its own
// directory, returned in roots.
func newCopyLab(t *testing.T, n int) (*lab, []string) {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("HOME", t.TempDir())
	keyPath, key := sshtest.NewKeyFile(t)
	lb := &lab{key: keyPath}
	var known strings.Builder
	var roots []string
	for range n {
		root := t.TempDir()
		srv := sshtest.StartOptions(t, sshtest.Options{User: "alice", Key: key.PublicKey(), Root: root})
		lb.servers = append(lb.servers, srv)
		lb.hosts = append(lb.hosts, "alice@"+srv.Addr)
		roots = append(roots, root)
		data, _ := os.ReadFile(sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr))
		known.Write(data)
	}
	lb.known = filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(lb.known, []byte(known.String()), 0o600)
	return lb, roots
}

func (lb *lab) herd(t *testing.T, verb string, args ...string) (int, string, string) {
	t.Helper()
	return herd(t, "", append([]string{verb, "-i", lb.key, "--known-hosts", lb.known, "--connect-timeout", "5s"}, args...)...)
}

func writeFile(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func checkFile(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != data {
		t.Errorf("%s: %q, %v; want %q", path, got, err, data)
		return
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
}

func TestPushPullCommands(t *testing.T) {
	lb, roots := newCopyLab(t, 3)
	src := filepath.Join(t.TempDir(), "tool")
	writeFile(t, filepath.Join(src, "bin", "tool"), "#!/bin/sh\nexit 0\n", 0o755)
	writeFile(t, filepath.Join(src, "etc", "token"), "private\n", 0o600)

	code, out, errOut := lb.herd(t, "push", strings.Join(lb.hosts, ","), src, "/srv")
	if code != 0 {
		t.Fatalf("push: exit %d\n%s%s", code, out, errOut)
	}
	for i, h := range lb.hosts {
		checkFile(t, filepath.Join(roots[i], "srv", "bin", "tool"), "#!/bin/sh\nexit 0\n", 0o755)
		checkFile(t, filepath.Join(roots[i], "srv", "etc", "token"), "private\n", 0o600)
		if !strings.Contains(out, h+": pushed 2 files, 3 directories") {
			t.Errorf("push output has no line for %s:\n%s", h, out)
		}
	}
	if !strings.Contains(errOut, "ok             3  ") {
		t.Errorf("push summary:\n%s", errOut)
	}

	// Pull back; the last host lost its copy.
	os.RemoveAll(filepath.Join(roots[2], "srv"))
	local := filepath.Join(t.TempDir(), "back")
	code, _, errOut = lb.herd(t, "pull", "--retries", "0", strings.Join(lb.hosts, ","), "/srv", local)
	if code != 1 {
		t.Errorf("pull with one host missing the file: exit %d, want 1 (failed)\n%s", code, errOut)
	}
	for _, h := range lb.hosts[:2] {
		checkFile(t, filepath.Join(local, h, "srv", "bin", "tool"), "#!/bin/sh\nexit 0\n", 0o755)
		checkFile(t, filepath.Join(local, h, "srv", "etc", "token"), "private\n", 0o600)
	}
	missing := lb.hosts[2]
	if !strings.Contains(errOut, missing+"! pull: remote stat /srv: file does not exist\n") ||
		!strings.Contains(errOut, "failed         1  "+missing) || !strings.Contains(errOut, "ok             2  ") {
		t.Errorf("pull of a missing file: stderr\n%s\nwant the reason under the host and it in the failed class", errOut)
	}
}

func TestCopyUsage(t *testing.T) {
	lb, _ := newCopyLab(t, 1)
	code, _, errOut := lb.herd(t, "push", lb.hosts[0], filepath.Join(t.TempDir(), "nothing"), "/x")
	if code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Errorf("push of a missing local file: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
	code, _, errOut = lb.herd(t, "pull", "/x")
	if code != exitUsage || !strings.Contains(errOut, "requires at least 2 arg") {
		t.Errorf("pull with one argument: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}
