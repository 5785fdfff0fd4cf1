package sshsession

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/internal/sshtest"
)

// The memory a host holds while in flight, and what it leaves behind once
// finished, measured in this process with the SSH server in another (this
// test binary, run as TestHelperSSHServer), so that only the client's
// share counts.

// helperKeyEnv carries the client's public key (authorized_keys format)
// to the helper server process; it also marks that process.
const helperKeyEnv = "SSHSESSION_HELPER_CLIENT_KEY"

// TestHelperSSHServer is not a test: run by startHelperServer in a process
// of its own, it serves SSH to the key in helperKeyEnv, prints its address
// and host key, and serves until its stdin ends.
func TestHelperSSHServer(t *testing.T) {
	line := os.Getenv(helperKeyEnv)
	if line == "" {
		t.Skip("only run as the memory tests' server process")
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	srv := sshtest.Start(t, "alice", key)
	go func() { // "hang" commands report how they ended; nobody asks here
		for range srv.Ended {
		}
	}()
	fmt.Printf("addr %s\nhostkey %s", srv.Addr, ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey()))
	io.Copy(io.Discard, os.Stdin)
}

// startHelperServer starts the server process for clientKey and returns
// its address and host key; it ends with the test.
func startHelperServer(t *testing.T, clientKey ssh.PublicKey) (string, ssh.PublicKey) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSSHServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperKeyEnv+"="+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(clientKey))))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var addr string
	var hostKey ssh.PublicKey
	lines := bufio.NewScanner(stdout)
	for (addr == "" || hostKey == nil) && lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "addr "); ok {
			addr = a
		}
		if k, ok := strings.CutPrefix(lines.Text(), "hostkey "); ok {
			if hostKey, _, _, _, err = ssh.ParseAuthorizedKey([]byte(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if addr == "" || hostKey == nil {
		t.Fatalf("the server process said no address and host key (%v)", lines.Err())
	}
	go io.Copy(io.Discard, stdout)
	return addr, hostKey
}

// readyCounter is a runner.Output counting the hosts that printed "ready".
type readyCounter struct {
	mu    sync.Mutex
	ready int
}

func (rc *readyCounter) Start(string) (io.Writer, io.Writer) { return rc, io.Discard }
func (rc *readyCounter) Done(runner.Result)                  {}

func (rc *readyCounter) Write(p []byte) (int, error) {
	rc.mu.Lock()
	rc.ready += strings.Count(string(p), "ready\n")
	rc.mu.Unlock()
	return len(p), nil
}

func (rc *readyCounter) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.ready
}

// footprint is what the process holds: live heap, goroutine stacks and
// goroutines, after collecting garbage.
type footprint struct {
	heap, stacks int64
	goroutines   int
}

func measure() footprint {
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one's finalizers let go
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{int64(ms.HeapAlloc), int64(ms.StackInuse), runtime.NumGoroutine()}
}

// hostsConnector returns a Connector whose hosts h1, h2, ... are all the
// helper server (through the ssh config), and the hosts' names.
func hostsConnector(t *testing.T, n int) (*Connector, []string) {
	keyPath, key := sshtest.NewKeyFile(t)
	addr, hostKey := startHelperServer(t, key.PublicKey())
	known := sshtest.KnownHosts(t, hostKey, addr)
	config := fmt.Sprintf("Host h*\n  HostName 127.0.0.1\n  Port %s\n  User alice\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		portOf(t, addr), keyPath, known)
	c := withConfigWorkers(t, config, &HostConfig{}, n)
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d", i+1)
	}
	return c, hosts
}

// Bounds on a host in flight (a session open, its command running and
// silent). They are loose: a breach means something grew by half or
// more, such as a 32 KiB buffer per stream or a goroutine per host.
// Stacks are counted as goroutines: a stack freed by one run is kept for
// the next, so the bytes of stack a run adds say little.
//
// Goroutines are 7 per host: the host's flow; x/crypto/ssh's packet
// reader, key exchange and channel multiplexer; the connection's hostConn
// goroutine; and the command's stdout and stderr readers. They were 9
// while commands ran in ssh.Sessions of an ssh.Client, each with a
// goroutine of its own waiting for the exit status, and the client with
// one waiting for the connection's end. The handshakes' workers are the
// connector's, at most memoryHandshakes of them whatever the hosts, and a
// run has a few more of its own (perRunGoroutines).
const (
	maxInFlightHeap       = 40 << 10 // live heap per host; 21 KiB when written
	maxInFlightGoroutines = 7        // per host, besides the handshakes' workers
	maxFinishedBytes      = 4 << 10  // live heap left per finished host
	memoryHandshakes      = 8        // the connector's MaxHandshakes here
	perRunGoroutines      = 4        // a run's, whatever its hosts (2 when written)
)

// TestInFlightHostMemory: each host running a command holds at most
// maxInFlightHeap of live heap and maxInFlightGoroutines goroutines.
func TestInFlightHostMemory(t *testing.T) {
	const n = 48
	c0, hosts := hostsConnector(t, n)
	cfg := c0.cfg
	cfg.MaxHandshakes = memoryHandshakes
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Wait(5 * time.Second) })
	// A first run, through another Connector on the same loop, fills the
	// loop's spare read and write buffers, which hold up to 64 of each
	// size whatever the number of hosts: they are the loop's, not the
	// hosts'. That Connector's workers then wait, idle, in both figures;
	// c's own are the hosts'.
	warm, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.New(warm, nil, runner.Config{Fanout: n, ConnectTimeout: time.Minute}).Run(c.cfg.Loop, hosts, "exit 0"); err != nil {
		t.Fatal(err)
	}
	warm.Wait(10 * time.Second)
	before := measure()
	out := &readyCounter{}
	r := runner.New(c, out, runner.Config{Fanout: n, ConnectTimeout: time.Minute})
	type ran struct {
		results []runner.Result
		err     error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := r.Run(c.cfg.Loop, hosts, "out ready; hang")
		done <- ran{res, err}
	}()
	deadline := time.Now().Add(time.Minute)
	for out.count() < n {
		if time.Now().After(deadline) {
			r.Cancel()
			t.Fatalf("after a minute, %d of %d hosts run their command", out.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	during := measure()
	r.Cancel()
	end := <-done
	if end.err != nil {
		t.Fatal(end.err)
	}
	for _, res := range end.results {
		if res.Class != runner.Cancelled {
			t.Errorf("%s: %v (%v), want cancelled", res.Host, res.Class, res.Err)
		}
	}
	heap := (during.heap - before.heap) / n
	stacks := (during.stacks - before.stacks) / n
	goroutines := float64(during.goroutines-before.goroutines) / n
	t.Logf("per host in flight: live heap %.1f KiB, %.2f goroutines (stacks in use grew by %.1f KiB)",
		float64(heap)/1024, goroutines, float64(stacks)/1024)
	if bound := maxInFlightGoroutines + float64(memoryHandshakes+perRunGoroutines)/n; goroutines > bound {
		t.Errorf("%.2f goroutines per host in flight, want at most %.2f (%d, and %d more over %d hosts)",
			goroutines, bound, maxInFlightGoroutines, memoryHandshakes+perRunGoroutines, n)
	}
	if raceEnabled {
		return // the race detector's own records swell the heap
	}
	if heap > maxInFlightHeap {
		t.Errorf("%.1f KiB of live heap per host in flight, want at most %d KiB", float64(heap)/1024, maxInFlightHeap>>10)
	}
}

// TestFinishedHostsReleased: once a run's hosts have finished, nothing of
// their connections and sessions stays behind.
func TestFinishedHostsReleased(t *testing.T) {
	const n = 64
	c, hosts := hostsConnector(t, n)
	// A first run fills what is kept for reuse (pool workers, buffers).
	warm := runner.New(c, nil, runner.Config{Fanout: 16, ConnectTimeout: time.Minute})
	if _, err := warm.Run(c.cfg.Loop, hosts[:16], "exit 0"); err != nil {
		t.Fatal(err)
	}
	c.Wait(10 * time.Second)
	before := measure()
	r := runner.New(c, nil, runner.Config{Fanout: 16, ConnectTimeout: time.Minute})
	results, err := r.Run(c.cfg.Loop, hosts, "out some output; err and some more; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range results {
		if res.Class != runner.Failed || res.Exit != 3 {
			t.Fatalf("%s: %v exit %d (%v), want failed, exit 3", res.Host, res.Class, res.Exit, res.Err)
		}
	}
	// Connections close in the background; their goroutines end soon after.
	c.Wait(10 * time.Second)
	var left int64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = (measure().heap - before.heap) / n
		if left <= maxFinishedBytes || time.Now().After(deadline) {
			break
		}
	}
	runtime.KeepAlive(results)
	t.Logf("live heap left per finished host: %d B (results included)", left)
	if left > maxFinishedBytes {
		t.Errorf("%d B of live heap left per finished host, want at most %d", left, maxFinishedBytes)
	}
}
