// Command treestat runs a command and reports what it and the processes
// it starts cost: wall time, CPU time and memory. bench/herd.sh measures
// cluster runners with it; a runner that spawns one ssh client per host
// (parallel-ssh, clush) and one that holds every session itself (herd)
// are then measured the same way.
//
//	treestat [-interval 20ms] [-o FILE] -- COMMAND [ARG...]
//
// Its last line on stderr (or the only line of FILE) is
//
//		RESULT wall_s=… cpu_s=… ctl_rss_kib=… kids_rss_kib=… kids_anon_kib=… kids=… exit=…
//
//	  - wall_s: from start to exit.
//	  - cpu_s: user+system CPU time of the command and every descendant it
//	    waited for (wait4's rusage, which folds reaped children in).
//	  - ctl_rss_kib: the command's own peak RSS (VmHWM from /proc, read at
//	    every sample; the last reading before it exits).
//	  - kids_rss_kib: the peak, over the samples, of the summed RSS of the
//	    command's descendants. RSS counts shared pages (libc, the ssh binary)
//	    in each process, so this overstates what they cost together;
//	    kids_anon_kib sums only their private pages (RSS minus shared).
//	  - kids: how many distinct descendants the samples saw.
//
// The descendants' figures are sampled, so a short-lived child may be
// missed; the interval sets the trade-off with treestat's own CPU.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	interval := flag.Duration("interval", 20*time.Millisecond, "sampling interval")
	outFile := flag.String("o", "", "also write the RESULT line to `FILE`")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: treestat [-interval D] [-o FILE] -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(64)
	}
	res, err := measure(flag.Args(), *interval)
	if err != nil {
		fmt.Fprintf(os.Stderr, "treestat: %v\n", err)
		os.Exit(1)
	}
	line := res.String()
	fmt.Fprintln(os.Stderr, line)
	if *outFile != "" {
		if err := os.WriteFile(*outFile, []byte(line+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "treestat: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(res.exit)
}

type result struct {
	wall, cpu                 time.Duration
	ctlRSS, kidsRSS, kidsAnon int64 // KiB
	kids, exit                int
}

func (r result) String() string {
	return fmt.Sprintf("RESULT wall_s=%.3f cpu_s=%.3f ctl_rss_kib=%d kids_rss_kib=%d kids_anon_kib=%d kids=%d exit=%d",
		r.wall.Seconds(), r.cpu.Seconds(), r.ctlRSS, r.kidsRSS, r.kidsAnon, r.kids, r.exit)
}

func measure(args []string, interval time.Duration) (result, error) {
	var r result
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Ctrl-C reaches the command too (same process group), which decides
	// how to end; treestat waits for it. (signal.Ignore would be inherited
	// by the command.)
	signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s := newSampler(cmd.Process.Pid)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for running := true; running; {
		s.sample(&r)
		select {
		case <-done:
			running = false
		case <-tick.C:
		}
	}
	r.wall = time.Since(start)
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return r, errors.New("no rusage for the command")
	}
	r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// ru_maxrss (KiB) is the larger of the command's and its largest
	// reaped child's: it stands for the command's own only when no child
	// was larger, so the sampled VmHWM is kept when it has one.
	if r.ctlRSS == 0 {
		r.ctlRSS = ru.Maxrss
	}
	r.kids = len(s.desc)
	r.exit = cmd.ProcessState.ExitCode()
	return r, nil
}

// sampler finds the command's descendants by their parent pids in /proc.
// A pid's parent is read once: it changes only when the parent dies, and
// a child reparented away from the tree no longer counts.
type sampler struct {
	root  int
	desc  map[int]bool // pids seen in the tree
	other map[int]bool // pids seen outside it
	page  int64        // KiB
}

func newSampler(root int) *sampler {
	return &sampler{root: root, desc: map[int]bool{}, other: map[int]bool{}, page: int64(os.Getpagesize() / 1024)}
}

func (s *sampler) sample(r *result) {
	if hwm := vmHWM(s.root); hwm > r.ctlRSS {
		r.ctlRSS = hwm
	}
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	live := make(map[int]int, len(names)) // pid -> ppid, for pids new to this sample
	var pids []int
	present := make(map[int]bool, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == s.root {
			continue
		}
		pids = append(pids, pid)
		present[pid] = true
		if !s.desc[pid] && !s.other[pid] {
			if pp, ok := ppid(pid); ok {
				live[pid] = pp
			}
		}
	}
	// Resolve new pids against the tree; a child may be listed before its
	// parent is known, so repeat until nothing changes.
	for changed := true; changed; {
		changed = false
		for pid, pp := range live {
			if pp == s.root || s.desc[pp] {
				s.desc[pid] = true
				delete(live, pid)
				changed = true
			}
		}
	}
	for pid := range live {
		s.other[pid] = true
	}
	// A pid outside the tree that ended may come back as a descendant.
	for pid := range s.other {
		if !present[pid] {
			delete(s.other, pid)
		}
	}
	var rss, anon int64
	for _, pid := range pids {
		if !s.desc[pid] {
			continue
		}
		res, shared, ok := statm(pid)
		if ok {
			rss += res * s.page
			anon += (res - shared) * s.page
		}
	}
	r.kidsRSS = max(r.kidsRSS, rss)
	r.kidsAnon = max(r.kidsAnon, anon)
}

// ppid reads the parent pid from /proc/PID/stat.
func ppid(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// statm reads resident and shared pages from /proc/PID/statm.
func statm(pid int) (resident, shared int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0, 0, false
	}
	resident, err1 := strconv.ParseInt(f[1], 10, 64)
	shared, err2 := strconv.ParseInt(f[2], 10, 64)
	return resident, shared, err1 == nil && err2 == nil
}

// vmHWM reads a process's peak RSS in KiB, 0 once it is gone.
func vmHWM(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<16))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
