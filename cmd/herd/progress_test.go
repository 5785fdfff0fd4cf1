package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// screen replays what a terminal shows for raw: a carriage return goes
// back to the start of the line, a newline ends it. It returns the ended
// lines and what is left on the last one (trailing blanks trimmed, as a
// terminal shows them).
func screen(raw string) (lines []string, last string) {
	var line []rune
	col := 0
	for _, r := range raw {
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, strings.TrimRight(string(line), " "))
			line, col = line[:0], 0
		default:
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
	}
	return lines, strings.TrimRight(string(line), " ")
}

// fakeTerminal makes isTerminal true for the given writers in this test.
func fakeTerminal(t *testing.T, terms ...io.Writer) {
	t.Helper()
	old := isTerminal
	isTerminal = func(w io.Writer) bool { return slices.Contains(terms, w) }
	t.Cleanup(func() { isTerminal = old })
}

// screenBuffer is a screen both writers share; the progress line's own
// lock orders writes, this one only keeps the race detector's view exact.
type screenBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *screenBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *screenBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Output lines written while the line redraws stay whole, on their own
// lines, and the line is gone at the end.
func TestProgressKeepsLinesApart(t *testing.T) {
	term := &screenBuffer{}
	outTerm := struct{ io.Writer }{term} // a second writer onto the same screen
	fakeTerminal(t, term, outTerm)
	const hosts, lines = 8, 20
	stdout, stderr, p := newProgress(true, outTerm, term, hosts)
	var done atomic.Int64
	p.start(func() (int, int, int) { d := int(done.Load()); return d, d / 3, hosts - d })

	var want []string
	var wg sync.WaitGroup
	for h := range hosts {
		for i := range lines {
			want = append(want, fmt.Sprintf("host%d: line %d", h, i), fmt.Sprintf("host%d! warning %d", h, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(stdout, "host%d: line %d\n", h, i)
				p.tick()
				fmt.Fprintf(stderr, "host%d! warning %d\n", h, i)
			}
			done.Add(1)
		}()
		if h == hosts/2 {
			wg.Wait() // leave the first half done, so the bar shows progress
			p.tick()
		}
	}
	wg.Wait()
	// A line in two writes: the line must not be drawn between its halves.
	io.WriteString(stdout, "last: half")
	p.tick()
	io.WriteString(stdout, " and half\n")
	want = append(want, "last: half and half")
	drawn := term.String()
	p.stop()

	got, last := screen(term.String())
	// Hosts write concurrently: compare the lines as sets.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the screen's lines are not the output's:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last != "" {
		t.Errorf("the progress line was left on the screen: %q", last)
	}
	if !strings.Contains(drawn, fmt.Sprintf("%d/%d", hosts/2+1, hosts)) || !strings.Contains(drawn, "running") {
		t.Errorf("no progress line was drawn:\n%q", drawn)
	}
}

// herd run on a fake terminal: the line is drawn on stderr, and the
// output and summary read as without it.
func TestProgressOnTerminal(t *testing.T) {
	lb := newLab(t, 3)
	old := isTerminal
	isTerminal = func(io.Writer) bool { return true } // both of herd's buffers are the terminal
	t.Cleanup(func() { isTerminal = old })
	code, out, errOut := lb.run(t, "@lab", "--", "out hi; err warn")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "\r") || !strings.Contains(errOut, "running") {
		t.Errorf("no progress line on the terminal's stderr:\n%q", errOut)
	}
	outLines, outLast := screen(out)
	errLines, errLast := screen(errOut)
	for _, h := range lb.hosts {
		if !slices.Contains(outLines, h+": hi") || !slices.Contains(errLines, h+"! warn") {
			t.Errorf("%s's lines are not whole on the screen:\nstdout %q\nstderr %q", h, outLines, errLines)
		}
	}
	if !slices.ContainsFunc(errLines, func(l string) bool { return strings.HasPrefix(l, "ok             3  ") }) {
		t.Errorf("summary not on a line of its own: %q", errLines)
	}
	if outLast != "" || errLast != "" {
		t.Errorf("left on the screen: stdout %q, stderr %q", outLast, errLast)
	}
}

// Not on a terminal, herd writes no progress line unless asked.
func TestProgressNotOnPipe(t *testing.T) {
	lb := newLab(t, 2)
	for _, extra := range [][]string{nil, {"--no-progress"}} {
		args := append(append([]string{}, extra...), "@lab", "--", "out hi")
		code, out, errOut := lb.run(t, args...)
		if code != 0 || strings.ContainsAny(out+errOut, "\r\x1b") || strings.Contains(errOut, "running") {
			t.Errorf("%v: exit %d, output with a progress line:\n%q\n%q", extra, code, out, errOut)
		}
		if lines := strings.Count(errOut, "\n"); lines != 1 {
			t.Errorf("%v: stderr has %d lines, want the summary's 1:\n%s", extra, lines, errOut)
		}
	}
	code, _, errOut := lb.run(t, "--progress", "--no-progress", "@lab", "--", "out hi")
	if code != exitUsage || !strings.Contains(errOut, "contradict") {
		t.Errorf("--progress --no-progress: exit %d\n%s", code, errOut)
	}
}
