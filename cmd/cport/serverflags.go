package main

import (
	"flag"
	"io"
	"runtime"
	"time"
)

// memDebugFlags adds --memstats and --memprofile to a server command's
// flags (echo, http, rpc); the function it returns, called after
// parsing, starts what they ask for.
func memDebugFlags(fs *flag.FlagSet) func(stdout io.Writer) {
	memStats := fs.Bool("memstats", false, "on SIGUSR1, print the Go runtime's memory figures (Linux)")
	memProfile := fs.String("memprofile", "", "on SIGUSR1, also write a heap profile to this file (implies --memstats; Linux)")
	return func(stdout io.Writer) {
		if *memProfile != "" {
			// Record every allocation, not one per 512 KiB: a few
			// thousand connections' worth of small objects would
			// otherwise show as a handful of samples.
			runtime.MemProfileRate = 1
		}
		if *memStats || *memProfile != "" {
			dumpMemOnSignal(stdout, *memProfile)
		}
	}
}

// batchWaitUsage is the help of the servers' --batch-wait.
const batchWaitUsage = "once woken, wait up to this long for a batch of 16 completions before running them, while data arrives fast enough for that to pay: less CPU per message under load, up to this much more latency (loop.DefaultBatchWait; 0: none)"

// loopBatchWait is the loop configuration's batch wait for the flag's
// value: the flag's 0 (none) is the loop's negative.
func loopBatchWait(flag time.Duration) time.Duration {
	if flag == 0 {
		return -1
	}
	return flag
}
