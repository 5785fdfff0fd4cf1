//go:build !linux

package main

import "io"

// dumpMemOnSignal needs SIGUSR1, which this system does not have.
func dumpMemOnSignal(io.Writer, string) {}
