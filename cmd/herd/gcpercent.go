package main

import (
	"os"
	"runtime/debug"
)

// sshGCPercent is the garbage collector's GOGC for runs over SSH: the
// collector starts a cycle when the heap has grown by a quarter since the
// last one, not by all of it (Go's default, 100).
//
// Most of a host's memory while its command runs is live heap (23 KiB:
// x/crypto/ssh's buffers and ciphers, the channel, the goroutines'
// descriptors) and goroutine stacks (26 KiB); the handshakes leave
// garbage besides, and with GOGC 100 the heap grows to about twice what
// is live before it is collected. Measured on the OpenSSH lab (herd run
// -f 400 -q ... -- 'sleep 50', 200 then 400 hosts all in flight, peak RSS
// by /usr/bin/time -v): 67.6 KiB more per host in flight with GOGC 100,
// 61.4 with 50, 53.8 with 25; the collector's CPU (gctrace) over the
// 400-host run 0.33 s, 0.66 s and 0.99 s, next to the 30 s and more
// that sshd spends on the same 400 sessions. Runs over the mTLS agent
// keep the default: no sshd there dwarfs herd's own CPU.
const sshGCPercent = 25

// useSSHGCPercent sets GOGC to sshGCPercent unless the environment sets
// it (the user's choice stands), and returns what puts it back.
func useSSHGCPercent() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	old := debug.SetGCPercent(sshGCPercent)
	return func() { debug.SetGCPercent(old) }
}
