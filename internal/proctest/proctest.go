// Package proctest finds a test's processes on this machine by a marker
// in their environment, to check that commands started through SSH are
// really gone. Every descendant of a process started with the marker
// carries it, whatever its name or arguments, and whatever user runs it.
package proctest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Var is the environment variable that carries a marker.
const Var = "HERD_TEST_MARK"

// NewMark returns a marker no other process carries.
func NewMark() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Env returns "Var=mark", to start a marked command with env(1).
func Env(mark string) string { return Var + "=" + mark }

// Find returns the live processes whose environment carries mark. Zombies
// (exited, not yet reaped) have no environment left and do not count.
//
// A process in the middle of execve has no environment to read either,
// so a count can dip by one for an instant while a forked child becomes
// its command (sh -c 'sleep 300 & sleep 300' is seen as 1, 2, 3, 2, 3).
// To ask whether processes already found still run, use Alive.
func Find(mark string) []int {
	want := []byte(Env(mark))
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				pid, _ := strconv.Atoi(filepath.Base(d))
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// WaitCount waits until at least n processes carry mark, for at most
// limit, and returns them; it fails the test when they do not appear.
func WaitCount(t testing.TB, mark string, n int, limit time.Duration) []int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		pids := Find(mark)
		if len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes carry the marker after %v, want %d: %v", len(pids), limit, n, pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Alive returns those of pids that still run: not gone and not a zombie.
// Unlike Find it does not read the environment, so a process that is
// execing its command counts.
func Alive(pids []int) []int {
	var alive []int
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The state follows the command name, which is in parentheses
		// and may itself hold any character.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) {
			continue
		}
		if state := stat[i+2]; state != 'Z' && state != 'X' {
			alive = append(alive, pid)
		}
	}
	return alive
}

// WaitGone waits until no process carries mark, for at most limit, and
// reports the survivors otherwise. It takes two empty looks in a row as
// gone, so that a process caught execing is not.
func WaitGone(mark string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for empty := 0; ; {
		pids := Find(mark)
		if len(pids) == 0 {
			if empty++; empty == 2 {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		empty = 0
		if time.Now().After(deadline) {
			return fmt.Errorf("still running %v after %v: %s", limit, pids, Describe(pids))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Describe returns the command lines of pids, for a failure message.
func Describe(pids []int) string {
	var b bytes.Buffer
	for _, pid := range pids {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		fmt.Fprintf(&b, "\n  %d: %s", pid, bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '}))
	}
	return b.String()
}

// Kill SIGKILLs the processes carrying mark, to clean up after a test.
func Kill(mark string) {
	for _, pid := range Find(mark) {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
}
