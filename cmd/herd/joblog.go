package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cport/cport/herd/mapper"
)

// jobLogHeader is the first line of GNU parallel's job log.
const jobLogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"

// openJobLog opens the job log at path: a new one, or, to resume, the
// one there with its lines kept and the new ones added after them (the
// header only if the file is new or empty).
func openJobLog(path string, resume bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if resume {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	switch {
	case err != nil:
	case st.Size() == 0:
		_, err = fmt.Fprintln(f, jobLogHeader)
	case !endsInNewline(path, st.Size()):
		// A run that died mid-line: its fragment stays a line of its own
		// (doneJobs passes over it), not the start of our first one.
		_, err = fmt.Fprintln(f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// endsInNewline reports whether the file at path, size bytes long, ends
// with a newline.
func endsInNewline(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, size-1)
	return err != nil || b[0] == '\n'
}

// writeJobLog writes r as a line of GNU parallel's job log: start as
// Unix time and runtime in seconds, bytes sent (none: no stdin) and
// received, exit value and signal.
func writeJobLog(w io.Writer, r mapper.Result) {
	start, runtime := 0.0, 0.0
	if !r.Start.IsZero() {
		start = float64(r.Start.UnixNano()) / 1e9
		runtime = r.Duration.Seconds()
	}
	exit, sig := r.Exit, 0
	if r.TimedOut {
		exit, sig = -1, 9
	}
	fmt.Fprintf(w, "%d\t%s\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%s\n", r.Seq, orNone(r.Host), start, runtime,
		0, len(r.Stdout)+len(r.Stderr), exit, sig, jobLogCommand(r.Command))
}

// jobLogCommand is a command as the job log holds it, on one line.
func jobLogCommand(cmd string) string { return strings.ReplaceAll(cmd, "\n", " ") }

// jobKey identifies a job across runs: its sequence number and command,
// so that a job log of other input does not pass for this one.
type jobKey struct {
	seq int
	cmd string
}

// doneJobs reads a job log and returns the jobs it shows done: exit
// value 0 and no signal. A missing log shows none. Lines that are not
// job lines (the header, a line cut short by a crash) are passed over.
func doneJobs(path string) (map[jobKey]bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	done := map[jobKey]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), "\t", 9)
		if len(fields) != 9 {
			continue
		}
		seq, err1 := strconv.Atoi(fields[0])
		exit, err2 := strconv.Atoi(fields[6])
		sig, err3 := strconv.Atoi(fields[7])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		if exit == 0 && sig == 0 {
			done[jobKey{seq, fields[8]}] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the job log %s: %w", path, err)
	}
	return done, nil
}

// pendingJobs leaves out of jobs those done holds, and returns how many
// it left out.
func pendingJobs(jobs []mapper.Job, done map[jobKey]bool) ([]mapper.Job, int) {
	var left []mapper.Job
	for _, j := range jobs {
		if done[jobKey{j.Seq, jobLogCommand(j.Command)}] {
			continue
		}
		left = append(left, j)
	}
	return left, len(jobs) - len(left)
}
