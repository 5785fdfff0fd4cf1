package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for cport where a benchmark
// re-executes itself: `cport.test serve-model …` runs the hidden command,
// not the tests.
func TestMain(m *testing.M) {
	if os.Getenv("CPORT_TEST_AS_COMMAND") == "1" {
		main() // runCport: the test binary as the cport command
		os.Exit(0)
	}
	if len(os.Args) > 1 {
		for _, c := range commands {
			if c.hidden && c.name == os.Args[1] {
				main()
				os.Exit(0)
			}
		}
	}
	os.Exit(m.Run())
}

// -h prints a command's flags and succeeds; bench -h lists the benchmarks;
// an unknown CPORT_BACKEND is an error naming the valid ones.
func TestHelpAndBadBackend(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the command-line checks run on Linux; under Wine a child process costs seconds")
	}
	for _, args := range [][]string{{"echo", "-h"}, {"http", "-h"}, {"bench", "-h"}, {"bench", "echo", "-h"}, {"help"}} {
		if out, err := runCport(nil, args...); err != nil {
			t.Errorf("cport %v: %v\n%s", args, err, out)
		}
	}
	out, err := runCport([]string{"CPORT_BACKEND=bogus"}, "version")
	if err == nil || !strings.Contains(string(out), "want uring or epoll") {
		t.Errorf("CPORT_BACKEND=bogus cport version: %v\n%s", err, out)
	}
}

// runCport runs the test binary as the cport command with args, env added
// to the environment, and returns its output.
func runCport(env []string, args ...string) ([]byte, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "CPORT_TEST_AS_COMMAND=1"), env...)
	return cmd.CombinedOutput()
}
