package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cport/cport/herd/runner"
)

// feed plays a host's output and result into p.
func feed(p *Printer, host, out, errOut string, r runner.Result) {
	o, e := p.Start(host)
	io.WriteString(o, out)
	io.WriteString(e, errOut)
	r.Host = host
	p.Done(r)
}

func TestLiveLines(t *testing.T) {
	var out, errOut bytes.Buffer
	p, _ := New(Live, &out, &errOut, "")
	o1, _ := p.Start("a")
	o2, e2 := p.Start("b")
	io.WriteString(o1, "one ")
	io.WriteString(o2, "two\nthr")
	io.WriteString(o1, "line\nlast")
	io.WriteString(e2, "warn\n")
	p.Done(runner.Result{Host: "b", Class: runner.OK})
	p.Done(runner.Result{Host: "a", Class: runner.Failed, Exit: 1})
	io.WriteString(o1, "late\n") // after Done: dropped
	if got, want := out.String(), "b: two\na: one line\nb: thr\na: last\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := errOut.String(), "b! warn\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

// Lines of different hosts written at once never mix within a line.
func TestLiveNoInterleaving(t *testing.T) {
	var out bytes.Buffer
	p, _ := New(Live, &out, io.Discard, "")
	var wg sync.WaitGroup
	for _, h := range []string{"a", "b", "c", "d"} {
		w, _ := p.Start(h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				io.WriteString(w, "xxxxxxxx")
				io.WriteString(w, "yyyy\n")
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if _, rest, _ := strings.Cut(l, ": "); rest != "xxxxxxxxyyyy" {
			t.Fatalf("mixed line %q", l)
		}
	}
}

func TestGatherAndSummary(t *testing.T) {
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	p, err := New(Gather, &out, &errOut, dir)
	if err != nil {
		t.Fatal(err)
	}
	var results []runner.Result
	add := func(host, o string, r runner.Result) {
		feed(p, host, o, "", r)
		r.Host = host
		results = append(results, r)
	}
	add("web1", "same\n", runner.Result{Class: runner.OK})
	add("web2", "same\n", runner.Result{Class: runner.OK})
	add("web3", "same\n", runner.Result{Class: runner.Failed, Exit: 2})
	add("web4", "other", runner.Result{Class: runner.OK})
	add("web5", "", runner.Result{Class: runner.Unreachable, Exit: -1, Err: errors.New("connection refused")})
	code, err := p.Finish(results)
	if err != nil {
		t.Fatal(err)
	}
	if code != ExitUnreachable {
		t.Errorf("exit status %d, want %d", code, ExitUnreachable)
	}
	want := "-------------------\nweb[1-2] (2) exit 0\n-------------------\nsame\n" +
		"---------------\nweb3 (1) exit 2\n---------------\nsame\n" +
		"---------------\nweb4 (1) exit 0\n---------------\nother\n" +
		"--------------------\nweb5 (1) unreachable\n--------------------\nconnection refused\n"
	if out.String() != want {
		t.Errorf("gathered:\n%s\nwant:\n%s", out.String(), want)
	}
	wantSum := "ok             3  web[1-2,4]\nfailed         1  web3\nunreachable    1  web5\n"
	if errOut.String() != wantSum {
		t.Errorf("summary:\n%s\nwant:\n%s", errOut.String(), wantSum)
	}
	failed, _ := os.ReadFile(filepath.Join(dir, "failed"))
	if !strings.HasSuffix(string(failed), "\nweb3\nweb5\n") {
		t.Errorf("failed file:\n%s", failed)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "web4.out"))
	if string(log) != "other" {
		t.Errorf("web4.out = %q", log)
	}
}

// TestNotKilledSummary: hosts whose command ended early but could not be
// killed get a summary line (and a JSON field) of their own, besides
// their class, and gather shows why.
func TestNotKilledSummary(t *testing.T) {
	var out, errOut bytes.Buffer
	p, _ := New(Gather, &out, &errOut, "")
	notKilled := &runner.NotKilledError{Cause: errors.New("command timed out after 1s"), Why: "the session to kill it could not be opened"}
	results := []runner.Result{
		{Host: "db1", Class: runner.TimedOut, Exit: -1, Err: errors.New("command timed out after 1s")},
		{Host: "db2", Class: runner.TimedOut, Exit: -1, Err: notKilled},
		{Host: "db3", Class: runner.Cancelled, Exit: -1, Err: notKilled},
	}
	for _, r := range results {
		feed(p, r.Host, "", "", r)
	}
	code, _ := p.Finish(results)
	if code != ExitCancelled {
		t.Errorf("exit status %d, want %d", code, ExitCancelled)
	}
	wantSum := "timeout        2  db[1-2]\ncancelled      1  db3\nnot killed     2  db[2-3]  (ended early, but could not be killed: may still run)\n"
	if errOut.String() != wantSum {
		t.Errorf("summary:\n%s\nwant:\n%s", errOut.String(), wantSum)
	}
	if !strings.Contains(out.String(), "db2 (1) timeout\n") || !strings.Contains(out.String(), notKilled.Error()) {
		t.Errorf("gathered output does not say db2 may still run:\n%s", out.String())
	}
	if s := Summarize(results); s.NotKilled != "db[2-3]" || s.NotKilledCount != 2 {
		t.Errorf("Summarize: not killed %q (%d), want db[2-3] (2)", s.NotKilled, s.NotKilledCount)
	}
}

func TestJSON(t *testing.T) {
	var out bytes.Buffer
	p, _ := New(JSON, &out, io.Discard, "")
	feed(p, "db1", "up\n", "warn\n", runner.Result{Class: runner.Failed, Exit: 4})
	code, _ := p.Finish([]runner.Result{{Host: "db1", Class: runner.Failed, Exit: 4}})
	if code != ExitFailed {
		t.Errorf("exit status %d, want %d", code, ExitFailed)
	}
	dec := json.NewDecoder(&out)
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec["host"] != "db1" || rec["class"] != "failed" || rec["exit"] != 4.0 || rec["stdout"] != "up\n" || rec["stderr"] != "warn\n" {
		t.Errorf("host record = %v", rec)
	}
	var sum struct {
		Summary Summary `json:"summary"`
	}
	if err := dec.Decode(&sum); err != nil {
		t.Fatal(err)
	}
	if sum.Summary.Total != 1 || sum.Summary.Counts[runner.Failed] != 1 || sum.Summary.Exit != ExitFailed {
		t.Errorf("summary = %+v", sum.Summary)
	}
}

// TestFinishedHostsForgotten: a finished host's state (its name, buffers
// and captured output) is let go at once, except in Gather mode, whose
// end prints it; a run over many hosts then holds those in flight only.
func TestFinishedHostsForgotten(t *testing.T) {
	for _, mode := range []Mode{Live, Gather, JSON, Quiet} {
		p, err := New(mode, io.Discard, io.Discard, "")
		if err != nil {
			t.Fatal(err)
		}
		feed(p, "a", "out\n", "err\n", runner.Result{Class: runner.OK})
		p.Start("b") // still running
		kept := len(p.hosts)
		if want := 1; mode == Gather {
			if kept != 2 {
				t.Errorf("mode %d: %d hosts kept, want both for the gathered output", mode, kept)
			}
		} else if kept != want {
			t.Errorf("mode %d: %d hosts kept, want %d (the one running)", mode, kept, want)
		}
	}
}
