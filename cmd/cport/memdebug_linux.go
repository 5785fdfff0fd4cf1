package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// dumpMemOnSignal prints the runtime's memory figures to w each time the
// process gets SIGUSR1 and, if path is not empty, writes a heap profile
// there: where a server's resident memory goes, asked while it holds its
// connections. The figures are read before the profile's collection, so
// they show the heap as the server left it.
func dumpMemOnSignal(w io.Writer, path string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		for range sig {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Fprintf(w, "memstats: heap_alloc=%d heap_inuse=%d heap_idle=%d heap_released=%d heap_objects=%d stack_inuse=%d mspan_inuse=%d gc_sys=%d other_sys=%d sys=%d num_gc=%d next_gc=%d\n",
				m.HeapAlloc, m.HeapInuse, m.HeapIdle, m.HeapReleased, m.HeapObjects, m.StackInuse, m.MSpanInuse, m.GCSys, m.OtherSys, m.Sys, m.NumGC, m.NextGC)
			if path == "" {
				continue
			}
			if err := writeHeapProfile(path); err != nil {
				fmt.Fprintf(w, "memstats: heap profile: %v\n", err)
			}
		}
	}()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the profile shows the heap as of the last collection
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
