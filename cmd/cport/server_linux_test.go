package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// startCportServer runs `cport args…` (the test binary as the command),
// with files as fds 3…, stops it with an interrupt when the test ends,
// and returns the first submatch of listening in its first line: where
// it listens.
func startCportServer(t *testing.T, files []*os.File, listening string, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CPORT_TEST_AS_COMMAND=1")
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.Process.Signal(os.Interrupt) != nil { // Windows has no interrupt to send
			cmd.Process.Kill()
		}
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		m := regexp.MustCompile(listening).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("cport %s said %q", args[0], line)
		}
		return m[1]
	case <-time.After(30 * time.Second):
		t.Fatalf("cport %s did not say where it listens", args[0])
	}
	return ""
}
