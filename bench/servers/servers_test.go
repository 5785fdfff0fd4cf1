package servers

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEcho builds each echo server, starts it on a free port and checks
// byte-exact echo of random-sized messages (1 B to 256 KiB) over 20
// concurrent connections, each writing and reading at the same time.
func TestEcho(t *testing.T) {
	dir := t.TempDir()
	servers := []struct {
		name  string
		args  []string
		build func(out string) *exec.Cmd
	}{
		{"gonet", nil, goBuild("./gonet")},
		{"gnet", nil, goBuild("./gnet")},
		{"nbio", nil, goBuild("./nbio")},
		{"cport-uring", []string{"--backend", "uring"}, goBuild("./cport")},
		{"cport-epoll", []string{"--backend", "epoll"}, goBuild("./cport")},
		{"uring-c", nil, ccBuild},
		// Two 512 B buffers for 20 connections: exercises the ENOBUFS wait
		// list and messages split over many buffers.
		{"uring-c-2bufs", []string{"--bufs", "2", "--bufsize", "512"}, ccBuild},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			if strings.HasPrefix(s.name, "uring-c") {
				if _, err := os.Stat("/usr/include/liburing.h"); err != nil {
					t.Skip("liburing-dev not installed (apt-get install liburing-dev)")
				}
				if _, err := exec.LookPath("cc"); err != nil {
					t.Skip("no C compiler")
				}
			}
			bin := filepath.Join(dir, s.name)
			if out, err := s.build(bin).CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			addr := freeAddr(t)
			srv := exec.Command(bin, append([]string{"--addr", addr}, s.args...)...)
			srv.Stderr = os.Stderr
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				srv.Process.Kill()
				srv.Wait()
			})
			waitListening(t, addr)
			checkEcho(t, addr, 20, 24)
		})
	}
}

func goBuild(pkg string) func(string) *exec.Cmd {
	return func(out string) *exec.Cmd { return exec.Command("go", "build", "-o", out, pkg) }
}

func ccBuild(out string) *exec.Cmd {
	return exec.Command("cc", "-O2", "-Wall", "-o", out, "uring-c/echo.c", "-luring")
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server did not listen on %s", addr)
}

// checkEcho runs conns connections; each sends msgs messages of random
// sizes in 1 B..256 KiB from one goroutine while another reads the echo and
// compares it byte for byte.
func checkEcho(t *testing.T, addr string, conns, msgs int) {
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			if err := oneConn(addr, seed, msgs); err != nil {
				errs <- fmt.Errorf("conn %d: %w", seed, err)
			}
		}(uint64(i) + 1)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func oneConn(addr string, seed uint64, msgs int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))

	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	payload := make([][]byte, msgs)
	total := 0
	for i := range payload {
		n := 1 + rng.IntN(256<<10)
		if i == 0 {
			n = 1 // always cover the smallest size
		}
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		payload[i] = b
		total += n
	}

	werr := make(chan error, 1)
	go func() {
		for _, b := range payload {
			if _, err := c.Write(b); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()

	got := make([]byte, 64<<10)
	for i, want := range payload {
		for off := 0; off < len(want); {
			n := min(len(got), len(want)-off)
			if _, err := io.ReadFull(c, got[:n]); err != nil {
				return fmt.Errorf("message %d (%d B) at offset %d: %w", i, len(want), off, err)
			}
			if !bytes.Equal(got[:n], want[off:off+n]) {
				return fmt.Errorf("message %d (%d B): mismatch in bytes %d..%d", i, len(want), off, off+n)
			}
			off += n
		}
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	// Nothing more may arrive: the server echoes exactly what it read.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := c.Read(got[:1]); n != 0 {
		return fmt.Errorf("extra bytes after %d echoed", total)
	}
	return nil
}
