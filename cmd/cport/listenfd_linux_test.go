package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cport http --listen-fd 3 serves on a listening socket its parent
// handed it, as systemd's socket activation does.
func TestHTTPListenFD(t *testing.T) {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := nl.(*net.TCPListener).File()
	nl.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "http", "--listen-fd", "3", "--loops", "2")
	cmd.Env = append(os.Environ(), "CPORT_TEST_AS_COMMAND=1")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, nl.Addr().String()) {
		t.Fatalf("cport http said %q (%v), want it listening on %s", line, err, nl.Addr())
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get("http://" + nl.Addr().String() + "/plaintext")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "Hello, World!" {
		t.Errorf("GET /plaintext: %q", body)
	}
}
