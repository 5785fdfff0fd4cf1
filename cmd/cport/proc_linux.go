package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
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
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.cpu, nil
}

// procStat holds the fields of /proc/PID/stat that the benchmarks use.
type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime
	// reaped is cutime + cstime: the CPU of children that have exited and
	// been waited for, which a tree sum would otherwise lose.
	reaped time.Duration
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name may hold spaces and parentheses; the fields we want
	// are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(b[i+1:])
	// After the name: state is field 3 of the line, ppid 4, utime 14,
	// stime 15, cutime 16, cstime 17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var v [5]int64
	for j, k := range []int{1, 11, 12, 13, 14} {
		if v[j], err = strconv.ParseInt(string(f[k]), 10, 64); err != nil {
			return procStat{}, fmt.Errorf("/proc/%d/stat: bad field %d", pid, k+3)
		}
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }
	return procStat{ppid: int(v[0]), cpu: tick(v[1] + v[2]), reaped: tick(v[3] + v[4])}, nil
}

// descendants lists pid's live descendants, found by walking every
// process's parent in /proc; processes that exit during the walk are
// skipped.
func descendants(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(p)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	var out []int
	for queue := slices.Clone(children[pid]); len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out, nil
}

// treeCPU is the CPU time used so far by pid, its live descendants and
// every descendant already reaped: a server that forks a worker per
// connection is charged for its workers.
func treeCPU(pid int) (time.Duration, error) {
	kids, err := descendants(pid)
	if err != nil {
		return 0, err
	}
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	total := st.cpu + st.reaped
	for _, k := range kids {
		if st, err := readStat(k); err == nil {
			total += st.cpu + st.reaped
		}
	}
	return total, nil
}

// treePss is the proportional set size of pid and its live descendants
// in bytes: pages they share (the program's text, among a worker per
// connection) are divided among the processes mapping them, not counted
// once per process as RSS would.
func treePss(pid int) (int64, error) {
	kids, err := descendants(pid)
	if err != nil {
		return 0, err
	}
	total, err := procPss(pid)
	if err != nil {
		return 0, err
	}
	for _, k := range kids {
		if n, err := procPss(k); err == nil {
			total += n
		}
	}
	return total, nil
}

// procPss reads Pss from /proc/PID/smaps_rollup.
func procPss(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := procKB(b, "Pss:")
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
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

// serverFDs counts the process's open file descriptors.
func serverFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}
