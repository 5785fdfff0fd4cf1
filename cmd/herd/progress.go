package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progressFlags are --progress and --no-progress; with neither, the
// progress line shows when stderr is a terminal.
type progressFlags struct{ on, off bool }

func (p *progressFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.on, "progress", false, "show a live progress line on stderr even when it is not a terminal")
	cmd.Flags().BoolVar(&p.off, "no-progress", false, "show no progress line (default: shown when stderr is a terminal)")
}

// want decides whether to draw the line on stderr.
func (p *progressFlags) want(stderr io.Writer) (bool, error) {
	switch {
	case p.on && p.off:
		return false, errors.New("--progress and --no-progress contradict each other")
	case p.on:
		return true, nil
	case p.off:
		return false, nil
	}
	return isTerminal(stderr), nil
}

// isTerminal reports whether w is a terminal; tests replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressTick is how often the line is redrawn with fresh counts.
const progressTick = 200 * time.Millisecond

// progress is the live line "[===>   ] 12/40 failed 1, running 8" at the
// bottom of the terminal, drawn with a progressbar.ProgressBar on stderr.
//
// It never mixes with output lines, by one rule: every byte written to
// the terminal, by the bar or by herd's output, is written while holding
// mu. The bar draws only when called under mu (progressbar starts a
// goroutine of its own only for a spinner of unknown length, which this
// bar is not). The writers given to herd/output — stderr, and stdout when
// it is a terminal too, the same screen — take mu, erase the bar, write
// their bytes and draw the bar again; herd/output writes whole lines, and
// in case a write ends mid-line the bar stays hidden until a line ends, so
// it is never drawn inside an output line. When stdout goes elsewhere (a
// file, a pipe) its writes pass untouched: they cannot meet the bar.
type progress struct {
	mu        sync.Mutex
	bar       *progressbar.ProgressBar
	total     int
	visible   bool // the bar is on the screen
	lineStart bool // the terminal's cursor is at the start of a line
	stopped   bool
	stats     func() (done, failed, running int)
	done      int    // as last drawn
	desc      string // as last drawn

	quit    chan struct{}
	ticking sync.WaitGroup
}

// newProgress returns the writers output should use and the progress
// line, nil when it is not wanted (and the writers are stdout and stderr).
func newProgress(on bool, stdout, stderr io.Writer, total int) (io.Writer, io.Writer, *progress) {
	if !on {
		return stdout, stderr, nil
	}
	width := 30
	if f, ok := stderr.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			// Keep the whole line inside the terminal: a wrapped line
			// could not be erased with a carriage return.
			width = max(5, min(width, cols-50))
		}
	}
	p := &progress{
		total:     total,
		lineStart: true,
		bar: progressbar.NewOptions(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetWidth(width),
			progressbar.OptionSetTheme(progressbar.ThemeASCII),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionClearOnFinish(),
		),
		quit: make(chan struct{}),
	}
	if isTerminal(stdout) {
		stdout = progressWriter{p, stdout}
	}
	return stdout, progressWriter{p, stderr}, p
}

// start draws the line and keeps it fresh from stats until stop.
func (p *progress) start(stats func() (done, failed, running int)) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.stats = stats
	p.draw()
	p.mu.Unlock()
	p.ticking.Add(1)
	go func() {
		defer p.ticking.Done()
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.tick()
			}
		}
	}()
}

// tick redraws the line with the current counts.
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
}

// stop erases the line for good, before the summary is printed.
func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.quit)
	p.ticking.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	p.stopped = true
}

// draw puts the line on the screen with fresh counts; mu is held.
func (p *progress) draw() {
	if p.stopped || !p.lineStart || p.stats == nil {
		return
	}
	done, failed, running := p.stats()
	desc := fmt.Sprintf("failed %d, running %d", failed, running)
	// Each of these calls draws the bar: make only the ones needed.
	switch {
	case desc != p.desc:
		p.desc = desc
		p.bar.Describe(desc)
		if done != p.done {
			p.done = done
			p.bar.Set(done)
		}
	case done != p.done:
		p.done = done
		p.bar.Set(done)
	default:
		p.bar.RenderBlank()
	}
	// A full bar erases itself (OptionClearOnFinish), and draws no more.
	p.visible = !p.bar.IsFinished()
}

// erase takes the line off the screen; mu is held.
func (p *progress) erase() {
	if p.visible {
		p.bar.Clear()
		p.visible = false
	}
}

// progressWriter is a terminal writer that keeps output and the line
// apart; see progress.
type progressWriter struct {
	p *progress
	w io.Writer
}

func (pw progressWriter) Write(b []byte) (int, error) {
	p := pw.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	n, err := pw.w.Write(b)
	if len(b) > 0 {
		p.lineStart = bytes.HasSuffix(b[:n], []byte("\n"))
	}
	p.draw()
	return n, err
}
