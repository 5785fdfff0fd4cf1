package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of /proc/PID/stat's CPU times: USER_HZ, fixed at 100
// in the kernel's ABI whatever the kernel's own tick rate.
const userHZ = 100

// processCPU is the user plus system CPU time the process has used so far
// (utime + stime in /proc/PID/stat); zero for pid 0.
func processCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: count the fields
	// from the last ')'. After it come state (field 3 of the line) … utime
	// (14) and stime (15).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')' after the command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want 13 or more", pid, len(f))
	}
	var ticks int64
	for _, k := range []int{11, 12} {
		n, err := strconv.ParseInt(string(f[k]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: field %d: %w", pid, k+3, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// procMem is a process's memory as /proc reports it, in bytes.
type procMem struct {
	rss int64 // resident set size (VmRSS)
	pss int64 // proportional set size (smaps_rollup); 0 if unreadable
}

// processMem reads the process's RSS and, where the kernel has
// smaps_rollup (4.14), its Pss.
func processMem(pid int) (procMem, error) {
	var m procMem
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if m.rss, err = procKB(b, "VmRSS:"); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		m.pss, _ = procKB(b, "Pss:")
	}
	return m, nil
}

// processFDs counts the process's open file descriptors.
func processFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// procKB finds the line starting with name in a /proc file of "Name:
// value kB" lines and returns the value in bytes.
func procKB(b []byte, name string) (int64, error) {
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte(name)); ok {
			if f := bytes.Fields(rest); len(f) >= 1 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s line", name)
}
