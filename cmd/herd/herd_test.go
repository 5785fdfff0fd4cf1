package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/internal/sshtest"
)

// lab is a few in-process SSH servers, a key that opens them, and the
// known_hosts and inventory files that name them.
type lab struct {
	key, known string
	servers    []*sshtest.Server
	hosts      []string // "alice@127.0.0.1:port" for each server
}

func newLab(t *testing.T, n int) *lab {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("HOME", t.TempDir())
	keyPath, key := sshtest.NewKeyFile(t)
	lb := &lab{key: keyPath}
	var known strings.Builder
	for range n {
		srv := sshtest.Start(t, "alice", key.PublicKey())
		lb.servers = append(lb.servers, srv)
		lb.hosts = append(lb.hosts, "alice@"+srv.Addr)
		data, _ := os.ReadFile(sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr))
		known.Write(data)
	}
	lb.known = filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(lb.known, []byte(known.String()), 0o600)
	inv := filepath.Join(t.TempDir(), "groups")
	os.WriteFile(inv, []byte("lab: "+strings.Join(lb.hosts, ",")+"\n"), 0o600)
	t.Setenv("HERD_INVENTORY", inv)
	return lb
}

// herd runs the command line and returns its exit status and output.
func herd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func (lb *lab) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return herd(t, "", append([]string{"run", "--raw", "-i", lb.key, "--known-hosts", lb.known, "--connect-timeout", "5s"}, args...)...)
}

func TestHosts(t *testing.T) {
	code, out, _ := herd(t, "", "hosts", "web[01-20]!web[05-09]", "-x", "web20")
	if code != 0 || out != "web[01-04,10-19]\n14\n" {
		t.Errorf("hosts: %d %q", code, out)
	}
	code, out, _ = herd(t, "", "hosts", "-e", "n[9-11]")
	if code != 0 || out != "n9\nn10\nn11\n" {
		t.Errorf("hosts -e: %d %q", code, out)
	}
	code, _, errOut := herd(t, "", "hosts", "web[1-3,x]")
	if code != exitUsage || !strings.Contains(errOut, "web[1-3,x]\n              ^ expected a number") {
		t.Errorf("bad expression: %d %q", code, errOut)
	}
}

func TestRunLiveAndSummary(t *testing.T) {
	lb := newLab(t, 3)
	down := "alice@" + sshtest.ClosedPort(t)
	code, out, errOut := lb.run(t, "--retries", "0", "@lab,"+down, "--", "out hi; err warn; exit 0")
	if code != 2 {
		t.Errorf("exit status %d, want 2 (a host unreachable); stderr:\n%s", code, errOut)
	}
	for _, h := range lb.hosts {
		if !strings.Contains(out, h+": hi\n") || !strings.Contains(errOut, h+"! warn\n") {
			t.Errorf("no prefixed lines for %s in\n%s\n%s", h, out, errOut)
		}
	}
	if !strings.Contains(errOut, "ok             3  ") || !strings.Contains(errOut, "unreachable    1  "+down) {
		t.Errorf("summary missing from stderr:\n%s", errOut)
	}
}

func TestRunGather(t *testing.T) {
	lb := newLab(t, 4)
	code, out, _ := lb.run(t, "-b", "@lab", "--", "out same")
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if strings.Count(out, "same\n") != 1 || !strings.Contains(out, "(4) exit 0") {
		t.Errorf("gathered output:\n%s\nwant one block for the 4 hosts", out)
	}
}

func TestRunLogDirAndRerun(t *testing.T) {
	lb := newLab(t, 3)
	dir := filepath.Join(t.TempDir(), "logs")
	down := "alice@" + sshtest.ClosedPort(t)
	code, _, _ := lb.run(t, "--retries", "0", "-q", "--log-dir", dir, lb.hosts[0]+","+lb.hosts[1]+","+down, "--", "out log me; exit 0")
	if code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	data, err := os.ReadFile(filepath.Join(dir, lb.hosts[0]+".out"))
	if err != nil || string(data) != "log me\n" {
		t.Errorf("log file: %q, %v", data, err)
	}
	failed, _ := os.ReadFile(filepath.Join(dir, "failed"))
	if !strings.Contains(string(failed), "\n"+down+"\n") || strings.Contains(string(failed), lb.hosts[0]) {
		t.Errorf("failed file:\n%s", failed)
	}
	// The failed file is a host file: rerunning it reaches only the failed host.
	code, _, errOut := lb.run(t, "--retries", "0", "--hostfile", filepath.Join(dir, "failed"), "--", "exit 0")
	if code != 2 || !strings.Contains(errOut, "unreachable    1  "+down) || strings.Contains(errOut, "ok ") {
		t.Errorf("rerun of failed: %d\n%s", code, errOut)
	}
}

func TestRunJSON(t *testing.T) {
	lb := newLab(t, 2)
	code, out, _ := lb.run(t, "--json", "@lab", "--", "out x; exit 5")
	if code != 1 {
		t.Errorf("exit status %d, want 1 (a command failed)", code)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	seen := 0
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			break
		}
		if s, ok := rec["summary"].(map[string]any); ok {
			if s["total"] != 2.0 || s["exit"] != 1.0 {
				t.Errorf("summary %v", s)
			}
			continue
		}
		seen++
		if rec["exit"] != 5.0 || rec["stdout"] != "x\n" || rec["class"] != "failed" {
			t.Errorf("record %v", rec)
		}
	}
	if seen != 2 {
		t.Errorf("%d host records, want 2:\n%s", seen, out)
	}
}

func TestRunTimeoutKills(t *testing.T) {
	lb := newLab(t, 2)
	code, _, errOut := lb.run(t, "--timeout", "200ms", "@lab", "--", "hang")
	if code != 3 || !strings.Contains(errOut, "timeout        2  ") {
		t.Errorf("exit status %d, want 3 (timed out); stderr:\n%s", code, errOut)
	}
	for _, srv := range lb.servers {
		select {
		case sig := <-srv.Ended:
			if sig != "KILL" {
				t.Errorf("remote command ended by %q, want KILL", sig)
			}
		case <-time.After(20 * time.Second): // a guard against a hang, not a measure
			t.Fatal("remote command left running")
		}
	}
}

func TestRunStrictHostKey(t *testing.T) {
	lb := newLab(t, 1)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	code, _, errOut := herd(t, "", "run", "--raw", "-i", lb.key, "--known-hosts", empty, lb.hosts[0], "--", "exit 0")
	if code != 2 || !strings.Contains(errOut, "unknown host key") {
		t.Errorf("unknown host key: %d\n%s", code, errOut)
	}
	code, _, errOut = herd(t, "", "run", "--raw", "-i", lb.key, "--known-hosts", empty, "--accept-new", lb.hosts[0], "--", "exit 0")
	if code != 0 {
		t.Errorf("--accept-new: %d\n%s", code, errOut)
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{
		{"run", "web1"},                             // no --
		{"run", "--", "uptime"},                     // no targets
		{"run", "web[", "--", "x"},                  // bad set
		{"run", "--batch", "0%", "web1", "--", "x"}, // bad batch
	} {
		if code, _, errOut := herd(t, "", args...); code != exitUsage || errOut == "" {
			t.Errorf("herd %q: exit %d, stderr %q; want %d and a message", args, code, errOut, exitUsage)
		}
	}
}

func TestBatchSize(t *testing.T) {
	for _, tt := range []struct {
		spec  string
		total int
		want  int
	}{{"", 10, 0}, {"3", 10, 3}, {"25%", 10, 2}, {"1%", 10, 1}, {"100%", 7, 7}} {
		if got, err := batchSize(tt.spec, tt.total); err != nil || got != tt.want {
			t.Errorf("batchSize(%q, %d) = %d, %v; want %d", tt.spec, tt.total, got, err, tt.want)
		}
	}
}
