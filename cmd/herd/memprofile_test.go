package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMemProfileKeepsPeak: a profile taken when less is live than at the
// one before leaves that one, the larger, in place.
func TestMemProfileKeepsPeak(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mem.pprof")
	p := &memProfiler{path: path} // no watcher: the test calls write
	big := make([]byte, 64<<20)
	p.write()
	runtime.KeepAlive(big)
	peak, summary := p.peak, p.summary
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if peak < 64<<20 || !strings.Contains(summary, "live heap") {
		t.Fatalf("first profile: peak %d B, summary %q; want the 64 MiB held", peak, summary)
	}
	big = nil
	p.write() // the 64 MiB are garbage now
	if p.err != nil {
		t.Fatal(p.err)
	}
	if p.peak != peak || p.summary != summary {
		t.Errorf("a smaller profile replaced the peak's: peak %d B, was %d; summary %q, was %q", p.peak, peak, p.summary, summary)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, first) {
		t.Error("the profile file was rewritten with a smaller profile")
	}
}
