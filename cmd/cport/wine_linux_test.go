package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestWineEcho is the Windows build's end-to-end check, driven from Linux:
// it cross-compiles cport for Windows, starts `cport echo` under Wine
// (whose sockets are the host's, so Linux clients reach it on 127.0.0.1),
// echoes 100 concurrent connections of random sizes from 1 B to 256 KiB,
// checks every byte, and checks that the server still answers afterwards.
//
// It runs only when CPORT_WINE_ECHO=1 (tools/wine/run-tests.sh sets it):
// it needs Wine and its prefix, takes seconds to start, and would
// otherwise run once per backend in CI although the Linux backend plays no
// part in it.
func TestWineEcho(t *testing.T) {
	if os.Getenv("CPORT_WINE_ECHO") != "1" {
		t.Skip("a Windows cport echo under Wine: set CPORT_WINE_ECHO=1 to run it (bash tools/wine/run-tests.sh does)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	env := winePrefix(t, root)
	exe := buildWindowsCport(t)
	for _, style := range []string{"callback", "flow"} {
		t.Run(style, func(t *testing.T) {
			srv := startWineEcho(t, env, exe, style)
			start := time.Now()
			echoMany(t, srv.addr, 100, 256<<10, uint64(time.Now().UnixNano()))
			t.Logf("%s style: 100 connections echoed byte for byte in %v", style, time.Since(start).Round(time.Millisecond))
			// It survived: a new connection still gets its bytes back.
			echoMany(t, srv.addr, 1, 1<<10, 1)
			srv.stop(t)
		})
	}
}

// TestWineSeedAccept runs the seed's example as a Windows program (AcceptEx
// and GetQueuedCompletionStatusEx through cport's port) under Wine: it
// must say each second that nothing has completed, then name the Linux
// client that connects, and exit.
func TestWineSeedAccept(t *testing.T) {
	if os.Getenv("CPORT_WINE_ECHO") != "1" {
		t.Skip("cport seed-accept under Wine: set CPORT_WINE_ECHO=1 to run it (bash tools/wine/run-tests.sh does)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	env := winePrefix(t, root)
	exe := buildWindowsCport(t)
	srv := startWine(t, env, exe, "listening on ", "seed-accept", "--addr", "127.0.0.1:0")
	time.Sleep(2500 * time.Millisecond) // two one-second polls at least
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-srv.exited:
		if err != nil {
			t.Fatalf("cport seed-accept: %v\n%s", err, srv.output.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("cport seed-accept did not finish after a client connected:\n%s", srv.output.String())
	}
	out := srv.output.String()
	t.Logf("output:\n%s", out)
	if n := strings.Count(out, "nothing completed yet"); n < 2 {
		t.Errorf("%d one-second polls reported in 2.5s, want at least 2", n)
	}
	if want := "connected from " + c.LocalAddr().String(); !strings.Contains(out, want) {
		t.Errorf("output lacks %q", want)
	}
}

// buildWindowsCport cross-compiles this command for windows/amd64.
func buildWindowsCport(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "cport.exe")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-compiling cport: %v\n%s", err, out)
	}
	return exe
}

// winePrefix prepares the prefix with tools/wine/prefix.sh and returns the
// environment for wine, with "wine" holding the loader's path.
func winePrefix(t *testing.T, root string) map[string]string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(root, "tools/wine/prefix.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tools/wine/prefix.sh: %v\n%s", err, stderr.Bytes())
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	if env["wine"] == "" {
		t.Fatalf("tools/wine/prefix.sh named no wine:\n%s%s", out, stderr.Bytes())
	}
	return env
}

type wineServer struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error
	done   atomic.Bool // reaped
	output *lockedBuffer
}

// startWineEcho starts `cport echo` under Wine on a port it picks and
// waits for its "listening on" line.
func startWineEcho(t *testing.T, env map[string]string, exe, style string) *wineServer {
	t.Helper()
	return startWine(t, env, exe, "echo: listening on ", "echo", "--addr", "127.0.0.1:0", "--loops", "2", "--style", style)
}

// startWine starts exe under Wine with args and waits for the line that
// begins with ready and goes on with the address it listens on.
func startWine(t *testing.T, env map[string]string, exe, ready string, args ...string) *wineServer {
	t.Helper()
	cmd := exec.Command(env["wine"], append([]string{exe}, args...)...)
	// Wine passes the environment on, and CPORT_BACKEND (uring or epoll,
	// set for the Linux runs) names no Windows backend.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CPORT_BACKEND=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for _, k := range []string{"WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES"} {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Env = append(cmd.Env, "DISPLAY=")
	// Its own process group, so that stopping it stops whatever the
	// loader started for it, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv := &wineServer{cmd: cmd, exited: make(chan error, 1), output: &lockedBuffer{}}
	cmd.Stderr = srv.output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.kill) // a failed test leaves no server behind
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(srv.output, line)
			if rest, ok := strings.CutPrefix(line, ready); ok {
				addr, _, _ := strings.Cut(rest, ",")
				addr, _, _ = strings.Cut(addr, " ")
				addrc <- addr
			}
		}
		err := cmd.Wait()
		srv.done.Store(true)
		srv.exited <- err
	}()
	select {
	case srv.addr = <-addrc:
		t.Logf("cport %s under wine: %s", args[0], strings.TrimSpace(srv.output.String()))
	case err := <-srv.exited:
		t.Fatalf("cport %s exited before listening: %v\n%s", args[0], err, srv.output.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("cport %s did not say it listens within 90s:\n%s", args[0], srv.output.String())
	}
	return srv
}

// stop checks the server is still running, then stops it the way a user
// would, with Ctrl-C: Wine turns SIGINT into a console CTRL_C_EVENT, which
// Go delivers as os.Interrupt, and cport echo then closes its listener and
// loops and exits 0.
func (s *wineServer) stop(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.exited:
		t.Fatalf("cport echo exited during the test: %v\n%s", err, s.output.String())
	default:
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("cport echo after Ctrl-C: %v, want a clean exit\n%s", err, s.output.String())
		}
	case <-time.After(30 * time.Second):
		s.kill()
		t.Errorf("cport echo did not exit within 30s of Ctrl-C; killed\n%s", s.output.String())
	}
}

// kill ends the server's process group (the loader and the program; Wine's
// own daemons, wineserver and winedevice, start their own sessions).
func (s *wineServer) kill() {
	if !s.done.Load() { // its pid may be someone else's once reaped
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// echoMany runs n concurrent connections to addr, each writing one message
// of a random size in [1, max] while reading it back, and checks every byte.
func echoMany(t *testing.T, addr string, n, max int, seed uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			msg := make([]byte, 1+r.IntN(max))
			for j := range msg {
				msg[j] = byte(r.Uint32())
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				t.Errorf("conn %d: %v", i, err)
				return
			}
			defer c.Close()
			deadline, _ := ctx.Deadline()
			c.SetDeadline(deadline)
			werr := make(chan error, 1)
			go func() { _, err := c.Write(msg); werr <- err }()
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Errorf("conn %d (%d bytes, seed %d): read: %v", i, len(msg), seed, err)
				return
			}
			if err := <-werr; err != nil {
				t.Errorf("conn %d: write: %v", i, err)
			}
			if !bytes.Equal(got, msg) {
				at := 0
				for at < len(msg) && got[at] == msg[at] {
					at++
				}
				t.Errorf("conn %d (%d bytes, seed %d): first differing byte at offset %d", i, len(msg), seed, at)
			}
			mu.Lock()
			total += len(msg)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if n > 1 {
		t.Logf("%d connections, %d bytes each way, seed %d", n, total, seed)
	}
}

// lockedBuffer collects the server's output from two goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
