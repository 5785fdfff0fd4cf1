package sshsession

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/internal/sshtest"
	"github.com/cport/cport/loop"
)

type buffers struct {
	mu  sync.Mutex
	out map[string]*strings.Builder
	err map[string]*strings.Builder
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (b *buffers) Start(host string) (io.Writer, io.Writer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, e := &strings.Builder{}, &strings.Builder{}
	b.out[host], b.err[host] = o, e
	return lockedWriter{&b.mu, o}, lockedWriter{&b.mu, e}
}

func (b *buffers) Done(runner.Result) {}

func (b *buffers) get(host string) (string, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out[host].String(), b.err[host].String()
}

func setup(t *testing.T, clientKey ssh.Signer, knownHosts string, acceptNew bool) *Connector {
	t.Helper()
	l, err := loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	hk, err := KnownHosts(acceptNew, knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Loop: l, Workers: 16, User: "alice", HostKey: hk, Auth: []ssh.AuthMethod{ssh.PublicKeys(clientKey)}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRun(t *testing.T) {
	key := sshtest.NewKey(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	down := sshtest.ClosedPort(t)
	stall := sshtest.Stalling(t)
	other := sshtest.NewKey(t)
	changed := sshtest.Start(t, "alice", key.PublicKey())
	known := sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr, stall)
	// changed's real key differs from the one recorded for it.
	known2 := sshtest.KnownHosts(t, other.PublicKey(), changed.Addr)
	data, _ := readFile(known2)
	appendFile(t, known, data)

	c := setup(t, key, known, false)
	l := c.cfg.Loop
	bufs := &buffers{out: map[string]*strings.Builder{}, err: map[string]*strings.Builder{}}
	r := runner.New(c, bufs, runner.Config{Fanout: 4, ConnectTimeout: 300 * time.Millisecond, Timeout: 500 * time.Millisecond, Retries: 1, Backoff: time.Millisecond})

	hosts := []string{srv.Addr, "bob@" + srv.Addr, down, stall, changed.Addr}
	results, err := r.Run(l, hosts, "out hello; err oops; part tail; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	want := []runner.Class{runner.Failed, runner.AuthFailed, runner.Unreachable, runner.Unreachable, runner.HostKey}
	for i, res := range results {
		if res.Class != want[i] {
			t.Errorf("%s: %v (%v), want %v", res.Host, res.Class, res.Err, want[i])
		}
	}
	if results[0].Exit != 3 {
		t.Errorf("exit status %d, want 3", results[0].Exit)
	}
	if out, errOut := bufs.get(srv.Addr); out != "hello\ntail" || errOut != "oops\n" {
		t.Errorf("stdout %q stderr %q, want %q and %q", out, errOut, "hello\ntail", "oops\n")
	}
	if results[3].Err == nil || !strings.Contains(results[3].Err.Error(), "connect timeout") {
		t.Errorf("stalled handshake: %v, want a connect timeout", results[3].Err)
	}
	if results[2].Attempts != 2 || results[3].Attempts != 2 {
		t.Errorf("attempts %d and %d for unreachable hosts, want 2 (one retry)", results[2].Attempts, results[3].Attempts)
	}
	if !strings.Contains(results[4].Err.Error(), "CHANGED") {
		t.Errorf("changed host key error %q does not say so", results[4].Err)
	}
}

func TestTimeoutKillsRemoteCommand(t *testing.T) {
	key := sshtest.NewKey(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	c := setup(t, key, sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr), false)
	r := runner.New(c, nil, runner.Config{Timeout: 100 * time.Millisecond})
	results, err := r.Run(c.cfg.Loop, []string{srv.Addr}, "out started; hang")
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Class != runner.TimedOut {
		t.Errorf("%v (%v), want timeout", results[0].Class, results[0].Err)
	}
	select {
	case sig := <-srv.Ended:
		if sig != "KILL" {
			t.Errorf("the remote command ended by %q, want the KILL signal", sig)
		}
	case <-time.After(20 * time.Second): // a guard against a hang, not a measure
		t.Fatal("the remote command was left running")
	}
}

func TestAcceptNew(t *testing.T) {
	key := sshtest.NewKey(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	known := sshtest.KnownHosts(t, sshtest.NewKey(t).PublicKey(), "elsewhere:22")

	strict := setup(t, key, known, false)
	res, _ := runner.New(strict, nil, runner.Config{}).Run(strict.cfg.Loop, []string{srv.Addr}, "exit 0")
	if res[0].Class != runner.HostKey || !strings.Contains(res[0].Err.Error(), "unknown host key") {
		t.Errorf("unknown host with strict checking: %v (%v), want hostkey", res[0].Class, res[0].Err)
	}

	c := setup(t, key, known, true)
	res, _ = runner.New(c, nil, runner.Config{}).Run(c.cfg.Loop, []string{srv.Addr}, "exit 0")
	if res[0].Class != runner.OK {
		t.Fatalf("accept-new: %v (%v), want ok", res[0].Class, res[0].Err)
	}
	data, _ := readFile(known)
	if !strings.Contains(data, knownhostsLineHost(srv.Addr)) {
		t.Errorf("known_hosts after accept-new:\n%s\nwant a line for %s", data, srv.Addr)
	}
	// Now recorded, the key passes strict checking.
	again := setup(t, key, known, false)
	res, _ = runner.New(again, nil, runner.Config{}).Run(again.cfg.Loop, []string{srv.Addr}, "exit 0")
	if res[0].Class != runner.OK {
		t.Errorf("after accept-new, strict: %v (%v), want ok", res[0].Class, res[0].Err)
	}
}

func TestSplitHost(t *testing.T) {
	tests := []struct {
		in         string
		user, host string
		port       int
		bad        bool
	}{
		{"web1", "", "web1", 0, false},
		{"root@web1", "root", "web1", 0, false},
		{"root@web1:2222", "root", "web1", 2222, false},
		{"10.0.0.1:22", "", "10.0.0.1", 22, false},
		{"web1:x", "", "", 0, true},
		{"web1:0", "", "", 0, true},
		{"root@", "", "", 0, true},
	}
	for _, tt := range tests {
		u, h, p, err := SplitHost(tt.in)
		if (err != nil) != tt.bad || u != tt.user || h != tt.host || p != tt.port {
			t.Errorf("SplitHost(%q) = %q, %q, %d, %v", tt.in, u, h, p, err)
		}
	}
}

// TestTimeoutWithoutPidLine: when what comes first on stdout is not the
// login shell's pid (sshtest runs no shell: "echo $$" does nothing
// there), the output passes on untouched, and a timeout's error says the
// command could not be killed and may still run.
func TestTimeoutWithoutPidLine(t *testing.T) {
	key := sshtest.NewKey(t)
	srv := sshtest.Start(t, "alice", key.PublicKey())
	c := setup(t, key, sshtest.KnownHosts(t, srv.HostKey.PublicKey(), srv.Addr), false)
	bufs := &buffers{out: map[string]*strings.Builder{}, err: map[string]*strings.Builder{}}
	r := runner.New(c, bufs, runner.Config{Timeout: 300 * time.Millisecond})
	results, err := r.Run(c.cfg.Loop, []string{srv.Addr}, "out hello; part 42; hang")
	if err != nil {
		t.Fatal(err)
	}
	if res := results[0]; res.Class != runner.TimedOut || res.Err == nil || !strings.Contains(res.Err.Error(), "may still run") {
		t.Errorf("%v (%v), want a timeout saying the command may still run", res.Class, res.Err)
	}
	if out, _ := bufs.get(srv.Addr); out != "hello\n42" {
		t.Errorf("stdout %q, want %q", out, "hello\n42")
	}
}
