//go:build unix

package main

import "syscall"

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: every host
// in flight holds a socket, and the usual soft limit of 1024 is below a
// large fan-out.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
