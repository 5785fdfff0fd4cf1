package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/herd/nodeset"
)

// copy runs herd push or pull in this process with the lab's options.
func (rl *realLab) copy(t *testing.T, verb string, args ...string) (int, string, string) {
	t.Helper()
	return herd(t, "", append(append([]string{verb, "--retries", "0"}, rl.flags(rl.known)...), args...)...)
}

// TestLabPushPull: a tree with an executable and a private file goes to
// three OpenSSH hosts over their SFTP servers and comes back from them
// into LOCALDIR/HOST/, keeping its modes; the host that lost its copy
// fails, the others do not. The lab's SFTP-only hosts each start in their
// own directory, so a relative REMOTE is a different file on each.
func TestLabPushPull(t *testing.T) {
	rl := needLab(t)
	if rl.sftpHosts == "" {
		t.Fatal("the lab names no SFTP hosts (no HERD_LAB_SFTP_HOSTS in its env): restart it with this tools/sshlab/start.sh")
	}
	all, err := nodeset.Parse(rl.sftpHosts)
	if err != nil || all.Len() < 3 {
		t.Fatalf("HERD_LAB_SFTP_HOSTS %q: %v; want 3 hosts or more", rl.sftpHosts, err)
	}
	hosts := all.Names()[:3]
	targets := strings.Join(hosts, ",")

	// A fresh name, so that a lab reused across runs holds no old copy.
	name := "tree-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	src := filepath.Join(t.TempDir(), name)
	writeFile(t, filepath.Join(src, "bin", "tool"), "#!/bin/sh\nexit 0\n", 0o755)
	writeFile(t, filepath.Join(src, "etc", "token"), "private\n", 0o600)
	remote := func(host string) string { return filepath.Join(rl.sftpDir, host, name) }
	t.Cleanup(func() {
		for _, h := range hosts {
			os.RemoveAll(remote(h))
		}
	})

	// "." is each host's start directory: the tree goes into it.
	code, out, errOut := rl.copy(t, "push", targets, src, ".")
	if code != 0 {
		t.Fatalf("push: exit %d\n%s%s", code, out, errOut)
	}
	for _, h := range hosts {
		checkFile(t, filepath.Join(remote(h), "bin", "tool"), "#!/bin/sh\nexit 0\n", 0o755)
		checkFile(t, filepath.Join(remote(h), "etc", "token"), "private\n", 0o600)
		if !strings.Contains(out, h+": pushed 2 files, 3 directories") {
			t.Errorf("push output has no line for %s:\n%s", h, out)
		}
	}
	wantSummary(t, errOut, map[string]string{"ok": nodeset.Fold(hosts)})

	// Pull it back; the last host lost its copy.
	if err := os.RemoveAll(remote(hosts[2])); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "back")
	code, _, errOut = rl.copy(t, "pull", targets, name, local)
	if code != 1 {
		t.Errorf("pull with one host missing the tree: exit %d, want 1 (failed)\n%s", code, errOut)
	}
	for _, h := range hosts[:2] {
		checkFile(t, filepath.Join(local, h, name, "bin", "tool"), "#!/bin/sh\nexit 0\n", 0o755)
		checkFile(t, filepath.Join(local, h, name, "etc", "token"), "private\n", 0o600)
	}
	missing := hosts[2]
	if !strings.Contains(errOut, missing+"! pull: remote stat "+name+": file does not exist\n") {
		t.Errorf("pull of a missing tree: stderr\n%s\nwant the reason under %s", errOut, missing)
	}
	if _, err := os.Lstat(filepath.Join(local, missing, name)); err == nil {
		t.Errorf("%s failed, yet %s holds a copy from it", missing, filepath.Join(local, missing))
	}
	wantSummary(t, errOut, map[string]string{"ok": nodeset.Fold(hosts[:2]), "failed": missing})

	// Every other host serves SFTP too, from the real root: an absolute path.
	code, _, errOut = rl.copy(t, "pull", "127.0.0.2", filepath.Join(remote(hosts[0]), "etc", "token"), local)
	if code != 0 {
		t.Fatalf("pull of an absolute path from an ordinary host: exit %d\n%s", code, errOut)
	}
	checkFile(t, filepath.Join(local, "127.0.0.2", "token"), "private\n", 0o600)
}
