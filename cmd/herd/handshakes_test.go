package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/internal/sshtest"
)

// TestRunMaxHandshakes: --max-handshakes 1 sets up one connection at a
// time: the second host's connection starts only once the first one's
// handshake has ended.
func TestRunMaxHandshakes(t *testing.T) {
	lb := newLab(t, 1)
	gate := sshtest.StartGate(t) // each connection stays in its handshake until the gate closes it
	done := make(chan string, 1)
	go func() {
		_, _, errOut := lb.run(t, "--max-handshakes", "1", "-f", "2", "--retries", "0", "a@"+gate.Addr+",b@"+gate.Addr, "--", "true")
		done <- errOut
	}()
	if err := gate.Release(1, 2); err != nil {
		t.Error(err)
	}
	select {
	case errOut := <-done:
		if strings.Count(errOut, "! unreachable: ") != 2 {
			t.Errorf("summary %q, want both hosts unreachable", errOut)
		}
	case <-time.After(20 * time.Second): // a guard against a hang, not a measure
		t.Fatal("herd did not end")
	}
	if most, arrived := gate.MaxOpen(); most != 1 || arrived != 2 {
		t.Errorf("%d connections, at most %d in their handshake at once; want 2, one at a time", arrived, most)
	}

	if code, _, errOut := lb.run(t, "--max-handshakes", "0", lb.hosts[0], "--", "true"); code != exitUsage || !strings.Contains(errOut, "--max-handshakes must be positive") {
		t.Errorf("--max-handshakes 0: exit %d, stderr %q; want %d and a usage error", code, errOut, exitUsage)
	}
}
