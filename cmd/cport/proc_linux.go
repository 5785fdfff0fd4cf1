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

// serverCPU is the user plus system CPU time the process has used so far
// (utime + stime from /proc/PID/stat); zero for pid 0.
func serverCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses; the fields we want
	// are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(b[i+1:])
	// After the name: state is field 3 of the line, utime 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad CPU times", pid)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// procMem is a process's memory as /proc reports it, in bytes.
type procMem struct {
	rss int64 // resident set size (VmRSS)
	pss int64 // proportional set size (smaps_rollup); 0 if unreadable
}

// serverMem reads the process's RSS and, where the kernel has
// smaps_rollup (4.14), its Pss: shared pages such as the binary's text
// count there only in part, so it moves less with what else runs.
func serverMem(pid int) (procMem, error) {
	var m procMem
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	if m.rss, err = procKB(b, "VmRSS:"); err != nil {
		return m, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		m.pss, _ = procKB(b, "Pss:")
	}
	return m, nil
}

// procKB finds the line starting with name in a /proc file of "Name:
// value kB" lines and returns the value in bytes.
func procKB(b []byte, name string) (int64, error) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(name)); ok {
			if f := bytes.Fields(rest); len(f) >= 1 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s line", name)
}
