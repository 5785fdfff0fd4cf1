package sshsession

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/internal/sshtest"
)

// tree writes a small tree under dir: an executable, a private file and
// a link, in a subdirectory.
func tree(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []struct {
		name string
		data string
		mode fs.FileMode
	}{{"bin/run.sh", "#!/bin/sh\necho hi\n", 0o755}, {"secret", "s3cret\n", 0o600}} {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	if err := os.Symlink("bin/run.sh", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
}

// checkTree checks the files of tree under dir, with their modes.
func checkTree(t *testing.T, dir string) {
	t.Helper()
	for name, want := range map[string]struct {
		data string
		mode fs.FileMode
	}{"bin/run.sh": {"#!/bin/sh\necho hi\n", 0o755}, "secret": {"s3cret\n", 0o600}} {
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if err != nil || string(data) != want.data {
			t.Errorf("%s: %q, %v; want %q", p, data, err, want.data)
			continue
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want.mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want.mode)
		}
	}
	if link, err := os.Readlink(filepath.Join(dir, "link")); err != nil || link != "bin/run.sh" {
		t.Errorf("link: %q, %v; want bin/run.sh", link, err)
	}
}

func TestPushPull(t *testing.T) {
	key := sshtest.NewKey(t)
	var hosts []string
	var roots []string
	var known []string
	for range 3 {
		root := t.TempDir()
		srv := sshtest.StartOptions(t, sshtest.Options{User: "alice", Key: key.PublicKey(), Root: root})
		hosts = append(hosts, srv.Addr)
		roots = append(roots, root)
		data, _ := readFile(sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr))
		known = append(known, data)
	}
	knownFile := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(knownFile, []byte(strings.Join(known, "")), 0o600)
	c := setup(t, key, knownFile, false)

	src := filepath.Join(t.TempDir(), "app")
	tree(t, src)
	// The first host already has the directory: the tree goes inside it.
	os.Mkdir(filepath.Join(roots[0], "opt"), 0o755)
	results, err := runner.New(c.Copier(Transfer{Local: src, Remote: "opt"}), nil, runner.Config{}).Run(c.cfg.Loop, hosts, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		if res.Class != runner.OK {
			t.Fatalf("push to %s: %v (%v)", res.Host, res.Class, res.Err)
		}
		dst := filepath.Join(roots[i], "opt")
		if i == 0 {
			dst = filepath.Join(dst, "app")
		}
		checkTree(t, dst)
	}

	// Pull it back from all three; the last one lacks it.
	os.RemoveAll(filepath.Join(roots[2], "opt"))
	local := t.TempDir()
	bufs := &buffers{out: map[string]*strings.Builder{}, err: map[string]*strings.Builder{}}
	results, err = runner.New(c.Copier(Transfer{Pull: true, Remote: "opt", Local: local}), bufs, runner.Config{}).Run(c.cfg.Loop, hosts, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results[:2] {
		if res.Class != runner.OK {
			t.Fatalf("pull from %s: %v (%v)", res.Host, res.Class, res.Err)
		}
		got := filepath.Join(local, res.Host, "opt")
		if i == 0 {
			got = filepath.Join(got, "app")
		}
		checkTree(t, got)
		if out, _ := bufs.get(res.Host); !strings.HasPrefix(out, "pulled 3 files") {
			t.Errorf("pull from %s said %q, want a count of 3 files", res.Host, out)
		}
	}
	missing := results[2]
	_, errOut := bufs.get(missing.Host)
	if missing.Class != runner.Failed || missing.Exit != 1 || !strings.Contains(errOut, "opt: file does not exist") {
		t.Errorf("pull of a missing file: %v exit %d (%v), stderr %q; want failed, exit 1, saying the file does not exist",
			missing.Class, missing.Exit, missing.Err, errOut)
	}
	if _, err := os.Stat(filepath.Join(local, missing.Host, "opt")); err == nil {
		t.Errorf("a failed pull left %s", filepath.Join(local, missing.Host, "opt"))
	}
}

// A copy that outlives the timeout is stopped and counted as timed out,
// and a host without sftp fails with an error, not as a failed copy.
func TestCopyTimeoutAndNoSFTP(t *testing.T) {
	key := sshtest.NewKey(t)
	stall := sshtest.StartOptions(t, sshtest.Options{User: "alice", Key: key.PublicKey(), SFTPStall: true})
	plain := sshtest.Start(t, "alice", key.PublicKey()) // no Root: refuses the sftp subsystem
	known := sshtest.KnownHosts(t, stall.HostKey.PublicKey(), stall.Addr)
	data, _ := readFile(sshtest.KnownHosts(t, plain.HostKey.PublicKey(), plain.Addr))
	appendFile(t, known, data)
	c := setup(t, key, known, false)
	pull := c.Copier(Transfer{Pull: true, Remote: "x", Local: t.TempDir()})
	results, err := runner.New(pull, nil, runner.Config{Timeout: 200 * time.Millisecond}).Run(c.cfg.Loop, []string{stall.Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	more, err := runner.New(pull, nil, runner.Config{}).Run(c.cfg.Loop, []string{plain.Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	results = append(results, more...)
	if results[0].Class != runner.TimedOut {
		t.Errorf("stalled sftp server: %v (%v), want timeout", results[0].Class, results[0].Err)
	}
	if results[1].Class != runner.Error || !strings.Contains(results[1].Err.Error(), "sftp") {
		t.Errorf("no sftp subsystem: %v (%v), want an error naming sftp", results[1].Class, results[1].Err)
	}
}
