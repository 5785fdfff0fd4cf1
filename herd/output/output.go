// Package output prints what herd's hosts say: live lines prefixed with
// the host's name, or gathered (each distinct output once, under the
// folded set of hosts that produced it, like clush -b), JSON lines, per-host
// log files, and the closing summary.
package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cport/cport/herd/nodeset"
	"github.com/cport/cport/herd/runner"
)

// Mode chooses how output is shown.
type Mode uint8

// The modes.
const (
	Live   Mode = iota // lines as they come, "host: line"
	Gather             // at the end, grouped by identical output
	JSON               // one JSON object per host as it ends, then a summary
	Quiet              // nothing but the summary
)

// MaxCapture bounds what is kept of each stream of each host for Gather
// and JSON, so that one chatty host cannot eat the controller's memory.
const MaxCapture = 1 << 20

// Printer is a runner.Output. Make it with New; call Finish at the end.
type Printer struct {
	mode   Mode
	stdout io.Writer
	stderr io.Writer
	logDir string

	mu    sync.Mutex       // serializes whole lines on stdout and stderr
	hosts map[string]*host // started; in Gather mode, also the finished
	err   error            // the first log file error
}

// New returns a printer writing to stdout and stderr; logDir, if not
// empty, receives HOST.out and HOST.err for each host and a "failed" host
// file at the end.
func New(mode Mode, stdout, stderr io.Writer, logDir string) (*Printer, error) {
	if logDir != "" {
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return nil, err
		}
	}
	return &Printer{mode: mode, stdout: stdout, stderr: stderr, logDir: logDir, hosts: map[string]*host{}}, nil
}

// host is one host's output on its way.
type host struct {
	p            *Printer
	name         string
	mu           sync.Mutex // x/crypto/ssh writes stdout and stderr from two goroutines
	done         bool
	out, errOut  stream
	outLog, eLog *os.File
}

// stream is one of a host's two streams.
type stream struct {
	partial []byte       // the unfinished last line, for Live
	capture bytes.Buffer // everything, up to MaxCapture, for Gather and JSON
	cut     bool         // capture stopped at MaxCapture
}

// Start returns host's writers.
func (p *Printer) Start(name string) (io.Writer, io.Writer) {
	h := &host{p: p, name: name}
	if p.logDir != "" {
		h.outLog = p.openLog(name + ".out")
		h.eLog = p.openLog(name + ".err")
	}
	p.mu.Lock()
	p.hosts[name] = h
	p.mu.Unlock()
	return hostWriter{h, false}, hostWriter{h, true}
}

func (p *Printer) openLog(name string) *os.File {
	f, err := os.Create(filepath.Join(p.logDir, safeName(name)))
	if err != nil {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
		return nil
	}
	return f
}

// safeName keeps a host name from escaping the log directory.
func safeName(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_").Replace(name)
}

type hostWriter struct {
	h      *host
	stderr bool
}

func (w hostWriter) Write(b []byte) (int, error) {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return len(b), nil // a late write after the host was given up
	}
	s, log := &h.out, h.outLog
	if w.stderr {
		s, log = &h.errOut, h.eLog
	}
	if log != nil {
		log.Write(b)
	}
	switch h.p.mode {
	case Live:
		s.partial = append(s.partial, b...)
		if i := bytes.LastIndexByte(s.partial, '\n'); i >= 0 {
			h.p.lines(h.name, s.partial[:i+1], w.stderr)
			s.partial = append(s.partial[:0], s.partial[i+1:]...)
		}
	case Gather, JSON:
		if room := MaxCapture - s.capture.Len(); room < len(b) {
			b, s.cut = b[:max(room, 0)], true
		}
		s.capture.Write(b)
	}
	return len(b), nil
}

// lines prints complete lines, each under the host's prefix, in one write
// so another host's line cannot land inside them. Stderr lines are marked
// with "!" after the name.
func (p *Printer) lines(name string, text []byte, stderr bool) {
	prefix := name + ": "
	w := p.stdout
	if stderr {
		prefix, w = name+"! ", p.stderr
	}
	var buf bytes.Buffer
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		buf.WriteString(prefix)
		buf.Write(text[:i+1])
		text = text[i+1:]
	}
	p.mu.Lock()
	w.Write(buf.Bytes())
	p.mu.Unlock()
}

// Done ends host's output: its unfinished last lines are printed (live),
// its log files closed, its JSON object written.
func (p *Printer) Done(r runner.Result) {
	p.mu.Lock()
	h := p.hosts[r.Host]
	if p.mode != Gather {
		// Only Gather looks at a host's output again, at the end: in the
		// other modes a finished host leaves nothing behind, so that a run
		// over many thousands of hosts holds those in flight only.
		delete(p.hosts, r.Host)
	}
	p.mu.Unlock()
	if h == nil {
		return
	}
	h.mu.Lock()
	h.done = true
	h.mu.Unlock()
	for _, f := range []*os.File{h.outLog, h.eLog} {
		if f != nil {
			f.Close()
		}
	}
	switch p.mode {
	case Live:
		if len(h.out.partial) > 0 {
			p.lines(h.name, append(h.out.partial, '\n'), false)
		}
		if len(h.errOut.partial) > 0 {
			p.lines(h.name, append(h.errOut.partial, '\n'), true)
		}
		if r.Class != runner.OK && r.Class != runner.Failed && r.Class != runner.Cancelled {
			p.lines(h.name, []byte(r.Class.String()+": "+errText(r.Err)+"\n"), true)
		}
	case JSON:
		p.mu.Lock()
		json.NewEncoder(p.stdout).Encode(hostRecord(r, h))
		p.mu.Unlock()
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// HostRecord is the JSON object written for each host.
type HostRecord struct {
	Host       string       `json:"host"`
	Class      runner.Class `json:"class"`
	Exit       int          `json:"exit"`
	Stdout     string       `json:"stdout"`
	Stderr     string       `json:"stderr"`
	Truncated  bool         `json:"truncated,omitempty"`
	Start      time.Time    `json:"start"`
	DurationMS float64      `json:"duration_ms"`
	Error      string       `json:"error,omitempty"`
}

func hostRecord(r runner.Result, h *host) HostRecord {
	return HostRecord{
		Host: r.Host, Class: r.Class, Exit: r.Exit,
		Stdout: h.out.capture.String(), Stderr: h.errOut.capture.String(),
		Truncated: h.out.cut || h.errOut.cut,
		Start:     r.Start, DurationMS: float64(r.Duration.Microseconds()) / 1000,
		Error: errText(r.Err),
	}
}

// Summary counts hosts by class, each class as a folded node set.
type Summary struct {
	Total   int                     `json:"total"`
	Classes map[runner.Class]string `json:"classes"` // folded node set per class
	Counts  map[runner.Class]int    `json:"counts"`
	// NotKilled are the hosts whose command ended early (timed out or
	// cancelled) but could not be killed: it may still run there.
	NotKilled      string `json:"not_killed,omitempty"`
	NotKilledCount int    `json:"not_killed_count,omitempty"`
	Exit           int    `json:"exit"` // herd's exit status
}

// Exit statuses of herd run; the worst class present decides.
const (
	ExitOK          = 0   // every host ran the command and it exited 0
	ExitFailed      = 1   // some command exited non-zero
	ExitUnreachable = 2   // some host was unreachable, refused auth or its host key, or erred
	ExitTimeout     = 3   // some command timed out (and was killed)
	ExitCancelled   = 130 // interrupted: some hosts never ran
)

// Summarize tallies results.
func Summarize(results []runner.Result) Summary {
	names := map[runner.Class][]string{}
	s := Summary{Total: len(results), Classes: map[runner.Class]string{}, Counts: map[runner.Class]int{}}
	var notKilled []string
	for _, r := range results {
		names[r.Class] = append(names[r.Class], r.Host)
		var nk *runner.NotKilledError
		if errors.As(r.Err, &nk) {
			notKilled = append(notKilled, r.Host)
		}
	}
	for c, n := range names {
		s.Classes[c] = nodeset.Fold(n)
		s.Counts[c] = len(n)
	}
	if len(notKilled) > 0 {
		s.NotKilled, s.NotKilledCount = nodeset.Fold(notKilled), len(notKilled)
	}
	switch {
	case s.Counts[runner.Cancelled] > 0:
		s.Exit = ExitCancelled
	case s.Counts[runner.Unreachable]+s.Counts[runner.AuthFailed]+s.Counts[runner.HostKey]+s.Counts[runner.Error] > 0:
		s.Exit = ExitUnreachable
	case s.Counts[runner.TimedOut] > 0:
		s.Exit = ExitTimeout
	case s.Counts[runner.Failed] > 0:
		s.Exit = ExitFailed
	}
	return s
}

// Finish prints what waits for the end (gathered output, the summary) and
// writes the log directory's "failed" file; it returns herd's exit status.
func (p *Printer) Finish(results []runner.Result) (int, error) {
	s := Summarize(results)
	switch p.mode {
	case Gather:
		p.gather(results)
	case JSON:
		json.NewEncoder(p.stdout).Encode(map[string]Summary{"summary": s})
	}
	if p.mode != JSON {
		p.summary(s)
	}
	if p.logDir != "" {
		var failed []string
		for _, r := range results {
			if r.Class != runner.OK {
				failed = append(failed, r.Host)
			}
		}
		sort.Slice(failed, func(i, j int) bool { return nodeset.Compare(failed[i], failed[j]) < 0 })
		text := "# hosts that did not succeed; rerun with --hostfile " + filepath.Join(p.logDir, "failed") + "\n"
		for _, h := range failed {
			text += h + "\n"
		}
		if err := os.WriteFile(filepath.Join(p.logDir, "failed"), []byte(text), 0o644); err != nil && p.err == nil {
			p.err = err
		}
	}
	return s.Exit, p.err
}

// gather prints each distinct (output, exit) once under its hosts.
func (p *Printer) gather(results []runner.Result) {
	type group struct {
		hosts []string
		text  string
	}
	groups := map[string]*group{}
	var order []string
	for _, r := range results {
		h := p.hosts[r.Host]
		if h == nil || r.Class == runner.Cancelled {
			continue
		}
		text := h.out.capture.String() + h.errOut.capture.String()
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		head := fmt.Sprintf("exit %d", r.Exit)
		if r.Class != runner.OK && r.Class != runner.Failed {
			head = r.Class.String()
			var nk *runner.NotKilledError
			if r.Class != runner.TimedOut || errors.As(r.Err, &nk) {
				text += errText(r.Err) + "\n"
			}
		}
		key := head + "\x00" + text
		g := groups[key]
		if g == nil {
			g = &group{text: text}
			groups[key] = g
			order = append(order, key)
		}
		g.hosts = append(g.hosts, r.Host)
	}
	sort.SliceStable(order, func(i, j int) bool { return len(groups[order[i]].hosts) > len(groups[order[j]].hosts) })
	for _, k := range order {
		g := groups[k]
		head, _, _ := strings.Cut(k, "\x00")
		title := fmt.Sprintf("%s (%d) %s", nodeset.Fold(g.hosts), len(g.hosts), head)
		rule := strings.Repeat("-", min(len(title), 72))
		fmt.Fprintf(p.stdout, "%s\n%s\n%s\n%s", rule, title, rule, g.text)
	}
}

// summary prints one line per class present, on stderr.
func (p *Printer) summary(s Summary) {
	for c := runner.OK; c <= runner.Cancelled; c++ {
		if n := s.Counts[c]; n > 0 {
			fmt.Fprintf(p.stderr, "%-11s %4d  %s\n", c, n, s.Classes[c])
		}
	}
	if s.NotKilledCount > 0 {
		fmt.Fprintf(p.stderr, "%-11s %4d  %s  (ended early, but could not be killed: may still run)\n", "not killed", s.NotKilledCount, s.NotKilled)
	}
}
