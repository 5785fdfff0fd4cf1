package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// memProfiler writes a Go heap profile of herd taken near its memory's
// peak, for the hidden --memprofile flag: at the end of a run the hosts'
// sessions are gone, so a profile written then would show none of what
// they held. It watches the heap and the goroutine stacks and, each time
// they grow by a tenth over the largest profile so far, collects garbage
// and, if what is left is still the largest, writes the profile again,
// so the file left behind is the one nearest the peak. (The heap figure
// it watches dates from the last collection and may count garbage: the
// collection it forces can find less than that, which must not replace
// a larger profile.)
// The collections it forces slow herd down: never time a run with it.
type memProfiler struct {
	path    string
	stop    chan struct{}
	done    chan struct{}
	samples []metrics.Sample
	peak    uint64 // live heap + stacks at the largest profile
	summary string
	err     error
}

// profileRate samples one allocation per 4 KiB instead of the default
// 512 KiB: a host's session holds only tens of KiB.
const profileRate = 4096

func startMemProfile(path string) *memProfiler {
	runtime.MemProfileRate = profileRate
	p := &memProfiler{
		path: path, stop: make(chan struct{}), done: make(chan struct{}),
		samples: []metrics.Sample{
			{Name: "/gc/heap/live:bytes"}, // as of the last collection: no garbage
			{Name: "/memory/classes/heap/stacks:bytes"},
		},
	}
	go p.watch()
	return p
}

func (p *memProfiler) watch() {
	defer close(p.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		metrics.Read(p.samples)
		now := p.samples[0].Value.Uint64() + p.samples[1].Value.Uint64()
		if now > p.peak+p.peak/10 {
			p.write()
		}
	}
}

// write collects garbage, so that the profile's in-use figures are those
// of this moment, and writes the profile.
func (p *memProfiler) write() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	size := ms.HeapAlloc + ms.StackInuse
	if p.summary != "" && size <= p.peak {
		return // less than the profile written already
	}
	p.peak = size
	f, err := os.Create(p.path)
	if err != nil {
		p.err = err
		return
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		p.err = err
	}
	if err := f.Close(); err != nil && p.err == nil {
		p.err = err
	}
	p.summary = fmt.Sprintf("live heap %d KiB, stacks %d KiB, goroutines %d, runtime total %d KiB",
		ms.HeapAlloc>>10, ms.StackInuse>>10, runtime.NumGoroutine(), (ms.Sys-ms.HeapReleased)>>10)
}

// finish stops watching and says where the profile is and what it saw.
func (p *memProfiler) finish(stderr io.Writer) {
	close(p.stop)
	<-p.done
	if p.summary == "" && p.err == nil { // the run ended before the first look
		p.write()
	}
	if p.err != nil {
		fmt.Fprintf(stderr, "herd: memprofile: %v\n", p.err)
		return
	}
	fmt.Fprintf(stderr, "herd: memprofile: %s, taken at the peak: %s\n", p.path, p.summary)
}
