package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestSSHGCPercent: a run over SSH collects at sshGCPercent, and puts the
// previous setting back after; a GOGC in the environment stands.
func TestSSHGCPercent(t *testing.T) {
	const before = 137
	old := debug.SetGCPercent(before)
	defer debug.SetGCPercent(old)

	if v, set := os.LookupEnv("GOGC"); set {
		defer os.Setenv("GOGC", v)
	} else {
		defer os.Unsetenv("GOGC")
	}
	os.Unsetenv("GOGC")
	restore := useSSHGCPercent()
	if got := debug.SetGCPercent(sshGCPercent); got != sshGCPercent {
		t.Errorf("GOGC during an SSH run = %d, want %d", got, sshGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(before); got != before {
		t.Errorf("GOGC after an SSH run = %d, want %d back", got, before)
	}

	os.Setenv("GOGC", "200")
	restore = useSSHGCPercent()
	if got := debug.SetGCPercent(before); got != before {
		t.Errorf("GOGC during an SSH run with GOGC=200 in the environment = %d, want it untouched (%d)", got, before)
	}
	restore()
}
