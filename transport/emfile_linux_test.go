package transport

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cport/cport/loop"
)

// emfileSlack is how many descriptors the server child may open beyond
// those it has when it starts listening.
const emfileSlack = 12

// The server child of TestAcceptEMFILE: an echo server whose descriptor
// limit runs out after a few connections. It prints its address and serves
// until its standard input closes.
func TestAcceptEMFILEChild(t *testing.T) {
	if os.Getenv("CPORT_EMFILE_CHILD") != "1" {
		t.Skip("run by TestAcceptEMFILE")
	}
	g := startGroup(t, 1, loop.Config{})
	// The limit is set before listening: io_uring's accept reads it when
	// the accept is armed, not at each connection.
	fds, _ := os.ReadDir("/proc/self/fd")
	lim := syscall.Rlimit{Cur: uint64(len(fds) + 1 + emfileSlack), Max: uint64(len(fds) + 1 + emfileSlack)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
	fmt.Println("ADDR", ln.Addr())
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// When the server runs out of descriptors, accepting pauses (logged once,
// no spinning), connections already open keep being served, and accepting
// resumes once descriptors are free again.
func TestAcceptEMFILE(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptEMFILEChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CPORT_EMFILE_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	out := bufio.NewScanner(stdout)
	var addr string
	for out.Scan() {
		if a, ok := strings.CutPrefix(out.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatalf("child printed no address; stderr:\n%s", stderr.String())
	}
	go func() {
		for out.Scan() {
		}
	}()
	// More connections than the child can accept: the kernel completes the
	// handshakes, the child's accepts fail with EMFILE.
	var served, waiting []net.Conn
	for i := 0; i < 3*emfileSlack; i++ {
		c := dialNet(t, "tcp", addr)
		defer c.Close()
		c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		if err := echoRoundTrip(c, []byte("ping")); err == nil {
			served = append(served, c)
		} else {
			waiting = append(waiting, c)
		}
	}
	if len(served) == 0 || len(waiting) == 0 {
		t.Fatalf("%d connections served, %d waiting; want some of each", len(served), len(waiting))
	}
	// Open connections are still served while accepting is paused.
	for _, c := range served {
		c.SetDeadline(time.Now().Add(hangGuard))
		if err := echoRoundTrip(c, []byte("still here")); err != nil {
			t.Fatalf("an open connection stopped being served: %v", err)
		}
	}
	// Free descriptors: the waiting connections are accepted and served.
	for _, c := range served {
		c.Close()
	}
	for _, c := range waiting[:min(len(waiting), len(served)/2)] {
		c.SetDeadline(time.Now().Add(hangGuard))
		buf := make([]byte, 4)
		if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
			t.Fatalf("a waiting connection was not served after descriptors freed: %q, %v", buf, err)
		}
	}
	stdin.Close()
	cmd.Wait()
	if n := strings.Count(stderr.String(), "too many open files"); n != 1 {
		t.Errorf("EMFILE logged %d times, want once; stderr:\n%s", n, stderr.String())
	}
}
