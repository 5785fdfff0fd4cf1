// Package backendtest runs a package's tests on every completion-port
// backend the machine has. A plain `go test ./...` then checks the io_uring
// and the epoll backend alike, as CI does by setting CPORT_BACKEND itself,
// and every run ends with a check for goroutines left behind.
package backendtest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/cport/cport/port"
)

// Main is a package's TestMain. With CPORT_BACKEND set, it runs the tests
// once, on that backend. Unset, on Linux, it runs the test binary again
// for each backend this machine can open, with CPORT_BACKEND set, and
// fails if any run fails; a backend the kernel refuses is skipped, and
// said so. Either way a goroutine left running after the tests fails the
// run; ignore lists goroutines that outlive tests by design.
func Main(m *testing.M, ignore ...goleak.Option) {
	if os.Getenv("CPORT_BACKEND") != "" || runtime.GOOS != "linux" {
		code := m.Run()
		if code == 0 {
			if err := goleak.Find(ignore...); err != nil {
				fmt.Fprintf(os.Stderr, "goleak: a test left goroutines behind: %v\n", err)
				code = 1
			}
		}
		os.Exit(code)
	}
	code := 0
	for _, backend := range []string{"uring", "epoll"} {
		p, err := port.Open(port.Config{Backend: backend})
		if err != nil {
			fmt.Printf("== %s backend unavailable here (%v): its run is skipped\n", backend, err)
			continue
		}
		p.Close()
		fmt.Printf("== CPORT_BACKEND=%s\n", backend)
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), "CPORT_BACKEND="+backend)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Printf("== CPORT_BACKEND=%s: %v\n", backend, err)
			code = 1
		}
	}
	os.Exit(code)
}
